"""scripts/conformance: run the real third-party tools on generated trees.

Run through scripts/conformance, which installs the tools into the cache first."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from .checks import crd_schema, helm, k8s_schema, kustomize, linters, nats_server, promtool, trivy
from .common import REPO, TOOLS, StepResult, ToolError, run, tail
from .tree import Tree, add_documents

TOOL_ORDER = ["kustomize", "helm", "k8s-schema", "crd-schema", "nats", "trivy", "hadolint",
              "actionlint", "zizmor", "promtool", "yamllint"]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scripts/conformance",
        description="Judge bulkhead's generated output with the real tools; non-zero exit on any finding.",
    )
    p.add_argument("paths", nargs="*", type=Path,
                   help="generated trees to check (a service.toml file is generated first); "
                        "default: every examples/*/service.toml")
    p.add_argument("--examples", action="store_true",
                   help="also check every example when paths are given")
    p.add_argument("--expect-defects", action="store_true",
                   help="the paths are planted-defect trees: exit 0 only if every tool reports "
                        "a finding (and each planted defect listed in <tree>.expect.yaml is "
                        "reported by its tool, which reports nothing else)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders (generated trees, renders)")
    p.add_argument("--jobs", type=int, default=int(os.environ.get("CONFORMANCE_JOBS", os.cpu_count() or 2)))
    return p.parse_args(argv)


# --- targets ---------------------------------------------------------------------


def bulkhead_binary() -> Path:
    if os.environ.get("BULKHEAD_BIN"):
        return Path(os.environ["BULKHEAD_BIN"])
    print("conformance: cargo build --release", file=sys.stderr, flush=True)
    proc = run(["cargo", "build", "--release", "--quiet"], cwd=REPO, timeout=1800)
    if proc.returncode != 0:
        raise ToolError(f"cargo build --release failed:\n{tail(proc.stderr, 40)}")
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    if not target.is_absolute():
        target = REPO / target
    return target / "release" / "bulkhead"


def generate(spec: Path, out: Path, binary: Path) -> StepResult:
    t0 = time.monotonic()
    res = StepResult("generate", unit="spec", checked=1)
    out.mkdir(parents=True, exist_ok=True)
    try:
        proc = run([binary, "apply", "--yes", "-q", "-f", spec, "-o", out], timeout=300)
    except ToolError as e:
        res.error = str(e)
        return res
    if proc.returncode != 0:
        res.add(str(spec), f"bulkhead apply failed (exit {proc.returncode}): "
                           f"{tail(proc.stderr + proc.stdout, 30)}")
    files = [p for p in out.rglob("*") if p.is_file() and ".bulkhead" not in p.parts]
    res.notes.append(f"bulkhead apply wrote {len(files)} files (besides .bulkhead/)")
    res.seconds = time.monotonic() - t0
    return res


# --- one tree --------------------------------------------------------------------


def plain_manifests(tree: Tree) -> None:
    """Objects in plain YAML outside the builds (argocd/*.yaml …) join the schema checks.
    Unparsable files are yamllint's to report."""
    for p in tree.plain_manifest_files():
        try:
            add_documents(tree, p.read_text(), tree.rel(p))
        except (OSError, UnicodeDecodeError):
            pass


def check_tree(tree: Tree, jobs: int) -> dict[str, StepResult]:
    results: dict[str, StepResult] = {}
    with ThreadPoolExecutor(max_workers=max(2, jobs)) as pool:
        # Independent of the builds: start at once.
        early = {
            "hadolint": pool.submit(_guard, "hadolint", linters.hadolint, tree),
            "actionlint": pool.submit(_guard, "actionlint", linters.actionlint, tree),
            "zizmor": pool.submit(_guard, "zizmor", linters.zizmor, tree),
            "yamllint": pool.submit(_guard, "yamllint", linters.yamllint, tree),
        }
        results["kustomize"] = _guard("kustomize", kustomize.check, tree, jobs)
        results["helm"] = _guard("helm", helm.check, tree)
        plain_manifests(tree)
        if results["kustomize"].error:
            results["kustomize"].notes.append("the schema, nats, Trivy and promtool steps miss every built object")
        late = {
            "crd-schema": pool.submit(_guard, "crd-schema", crd_schema.check, tree),
            "trivy": pool.submit(_guard, "trivy", trivy.check, tree),
            "promtool": pool.submit(_guard, "promtool", promtool.check, tree),
            "nats": pool.submit(_guard, "nats", nats_server.check, tree),
        }
        results["k8s-schema"] = _guard("k8s-schema", k8s_schema.check, tree)
        for name, fut in {**early, **late}.items():
            try:
                results[name] = fut.result()
            except Exception as e:  # noqa: BLE001 - a crashing step is a failure
                results[name] = StepResult(name, error=f"crashed: {type(e).__name__}: {e}")
    return {name: results[name] for name in TOOL_ORDER}


def _guard(name, fn, *args):
    t0 = time.monotonic()
    try:
        res = fn(*args)
    except ToolError as e:
        res = StepResult(name, error=str(e))
    except Exception as e:  # noqa: BLE001 - a crashing step is a failure, never a skip
        import traceback

        res = StepResult(name, error=f"crashed: {type(e).__name__}: {e}\n{traceback.format_exc()}")
    res.seconds = time.monotonic() - t0
    return res


# --- output ----------------------------------------------------------------------


def print_sections(results: dict[str, StepResult]) -> None:
    for r in results.values():
        if r.nothing is not None:
            head = f"nothing to check ({r.nothing})"
        else:
            n = r.count
            head = f"{r.checked_text()}, {n} finding{'s' if n != 1 else ''}"
        print(f"\n--- {r.tool}: {head} [{r.seconds:.1f}s]")
        for note in r.notes:
            print(f"    · {note}")
        if r.error:
            print(f"    ✗ TOOL COULD NOT RUN: {r.error}")
        for f in r.findings:
            print(f"    ✗ {f.line()}")


def table(rows: list[tuple[str, str, str, str]]) -> str:
    head = ("tool", "checked", "findings", "result")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *map(line, rows)])


def result_word(r: StepResult) -> str:
    if r.error:
        return "TOOL ERROR"
    if r.nothing is not None:
        return "nothing to check"
    return "FAIL" if r.findings else "ok"


def summary(results: dict[str, StepResult]) -> str:
    return table([(r.tool, r.checked_text(), str(r.count), result_word(r)) for r in results.values()])


# --- expect-defects ----------------------------------------------------------------


def expectations(tree_dir: Path) -> dict[str, list[str]]:
    path = tree_dir.parent / f"{tree_dir.name}.expect.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    return {tool: ([v] if isinstance(v, str) else list(v)) for tool, v in data.items()}


def judge_defects(tree_dir: Path, results: dict[str, StepResult]) -> list[str]:
    """Every tool must report its planted defect; a tool error does not count as catching it.
    A tool named in <tree>.expect.yaml must report nothing else: the rest of the tree is meant
    to pass, so a finding no planted defect explains is a false alarm (or an unplanted defect)."""
    problems = []
    expect = expectations(tree_dir)
    for tool, r in results.items():
        if r.error:
            problems.append(f"{tool}: the tool could not run ({r.error.splitlines()[0]})")
        elif not r.findings:
            problems.append(f"{tool}: reported nothing — its planted defect was missed")
        needles = expect.get(tool, [])
        for needle in needles:
            if not any(needle in f.where or needle in f.message for f in r.findings):
                problems.append(f"{tool}: no finding mentions {needle!r} (the planted defect)")
        if tool in expect:
            for f in r.findings:
                if not any(needle in f.where or needle in f.message for needle in needles):
                    problems.append(f"{tool}: a finding no planted defect explains: {f.line()}")
    for tool in expect:
        if tool not in results:
            problems.append(f"{tree_dir.name}.expect.yaml names an unknown tool {tool!r}")
    return problems


# --- main ----------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    specs: list[tuple[str, Path]] = []  # (name, service.toml)
    trees: list[tuple[str, Path]] = []  # (name, generated tree)
    if not args.paths or args.examples:
        found = sorted((REPO / "examples").glob("*/service.toml"))
        if not found:
            print("conformance: no examples/*/service.toml found", file=sys.stderr)
            return 1
        specs += [(f"example {p.parent.name}", p) for p in found]
    for p in args.paths:
        if p.is_file():
            specs.append((str(p), p.resolve()))
        elif p.is_dir():
            trees.append((str(p), p.resolve()))
        else:
            print(f"conformance: {p}: no such file or folder", file=sys.stderr)
            return 2
    if args.expect_defects and (not trees or args.examples):
        print("conformance: --expect-defects takes the planted-defect tree folder(s), nothing else",
              file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="bulkhead-conformance-"))
    overall: list[tuple[str, Path, dict[str, StepResult]]] = []
    binary = None
    try:
        jobs: list[tuple[str, Path | None, Path | None]] = [(n, s, None) for n, s in specs]
        jobs += [(n, None, t) for n, t in trees]
        for i, (name, spec, tree_dir) in enumerate(jobs):
            scratch = work / f"{i}-scratch"
            gen = None
            if spec is not None:
                if binary is None:
                    try:
                        binary = bulkhead_binary()
                    except ToolError as e:
                        binary = e
                tree_dir = work / f"{i}-tree"
                if isinstance(binary, ToolError):
                    gen = StepResult("generate", unit="spec", checked=1, error=str(binary))
                else:
                    gen = generate(spec, tree_dir, binary)
                label = f"{name}: {spec.relative_to(REPO) if spec.is_relative_to(REPO) else spec} → {tree_dir}"
            else:
                label = f"{name}: {tree_dir}"
            print(f"\n===== {label}", flush=True)
            t0 = time.monotonic()
            tree_dir.mkdir(parents=True, exist_ok=True)
            tree = Tree(tree_dir, name, scratch)
            if gen is not None and gen.failed and not tree.files:
                gen.notes.append("nothing was generated: the tools did not run on this example")
                results = {"generate": gen}
            else:
                results = check_tree(tree, args.jobs)
                if gen is not None:
                    results = {"generate": gen, **results}
            print_sections(results)
            if len(jobs) > 1:
                print(f"\nsummary for {name} ({time.monotonic() - t0:.1f}s):\n{summary(results)}", flush=True)
            overall.append((name, tree_dir, results))
    finally:
        if args.keep:
            print(f"\nconformance: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    elapsed = time.monotonic() - started
    print(f"\n===== conformance: {len(overall)} tree(s) in {elapsed:.1f}s, tools in {TOOLS}")
    rows = []
    for name, _, results in overall:
        for r in results.values():
            rows.append((f"{name} / {r.tool}" if len(overall) > 1 else r.tool,
                         r.checked_text(), str(r.count), result_word(r)))
    print(table(rows))

    if args.expect_defects:
        problems = []
        for name, tree_dir, results in overall:
            checked = {k: v for k, v in results.items() if k != "generate"}
            problems += [f"{name}: {p}" for p in judge_defects(tree_dir, checked)]
        if problems:
            print("\nEXPECT-DEFECTS FAILED — a planted defect missed, or a finding not planted:")
            for p in problems:
                print(f"  ✗ {p}")
            return 1
        print(f"\nexpect-defects: ok — all {len(TOOL_ORDER)} tools reported their planted defects "
              "and nothing else")
        return 0

    failed = [f"{name} / {r.tool}" for name, _, results in overall for r in results.values() if r.failed]
    if failed:
        print(f"\nFAILED: {len(failed)} step(s) with findings or tool errors: {', '.join(failed)}")
        return 1
    print("\nconformance: ok — no findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
