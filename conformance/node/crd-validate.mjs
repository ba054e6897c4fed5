// Validates custom resources against the schemas shipped by the pinned
// @kubernetes-models packages (Istio, Argo CD, Argo Rollouts, prometheus-operator, KEDA,
// cert-manager).
//
//   node crd-validate.mjs NODE_MODULES --list
//   node crd-validate.mjs NODE_MODULES INPUT.json      (prints JSON results on stdout)
//
// INPUT.json: [{"id": "...", "object": {...}}, ...]
// Output:     [{"id", "model", "errors": [...], "unknown": [...], "notes": [...]}]
//             model is null when no package defines the apiVersion/kind: a failure.
//
// The packages ship their schemas compiled to standalone Ajv validators, and those
// validators do not reject fields the schema does not define. So the object is
// wrapped in a Proxy that records which keys the validator looks up at every
// path while it walks the schema. A key present in the object that the validator
// never asked for is a field the schema does not define:
//   - an object whose keys the validator enumerates (additionalProperties,
//     patternProperties: labels, annotations, selectors …) is a map: any key goes;
//   - an object the validator never looks into at all (x-kubernetes-preserve-
//     unknown-fields, free-form `type: object`) is opaque: any content goes;
//   - otherwise every key must have been looked up.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const PACKAGES = [
  "@kubernetes-models/istio",
  "@kubernetes-models/argo-cd",
  "@kubernetes-models/argo-rollouts",
  "@kubernetes-models/prometheus-operator",
  "@kubernetes-models/keda",
  "@kubernetes-models/cert-manager",
];
// Upstream fields that these packages' compiled schemas lost: the generator of
// @kubernetes-models drops properties named "description" from some Argo CD and
// prometheus-operator schemas (e.g. AppProject.spec.description). Accepted when a
// string, and reported as a note.
const DROPPED_DESCRIPTION = new Set([
  "@kubernetes-models/argo-cd",
  "@kubernetes-models/prometheus-operator",
]);

const [nodeModules, input] = process.argv.slice(2);
if (!nodeModules || !input) {
  console.error("usage: crd-validate.mjs NODE_MODULES (--list | INPUT.json)");
  process.exit(2);
}

// apiVersion/kind → the one package that defines it. Argo CD and Argo Rollouts share
// argoproj.io/v1alpha1: a kind defined by two packages would be judged by whichever
// loaded first, so that is an error rather than a silent choice.
const models = new Map();
const clashes = new Set();
function collect(ns, pkg, version) {
  for (const v of Object.values(ns)) {
    if (typeof v === "function" && typeof v.apiVersion === "string" && typeof v.kind === "string") {
      const key = `${v.apiVersion}/${v.kind}`;
      const seen = models.get(key);
      if (!seen) models.set(key, { cls: v, pkg, version });
      else if (seen.pkg !== pkg) clashes.add(`${key}: ${seen.pkg} and ${pkg}`);
    } else if (v && typeof v === "object") {
      collect(v, pkg, version);
    }
  }
}
for (const pkg of PACKAGES) {
  const dir = path.join(nodeModules, pkg);
  const { version } = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const mod = await import(pathToFileURL(path.join(dir, "index.js")).href);
  collect(mod, pkg, version);
}
if (clashes.size) {
  console.error(`kinds defined by more than one package: ${[...clashes].join("; ")}`);
  process.exit(1);
}

if (input === "--list") {
  const byPkg = {};
  for (const [key, m] of models) {
    if (key.endsWith("List")) continue;
    (byPkg[`${m.pkg}@${m.version}`] ??= []).push(key);
  }
  console.log(JSON.stringify(byPkg));
  process.exit(0);
}

function trace(root) {
  const info = new Map();
  const proxies = new WeakMap();
  const rec = (p) => {
    let i = info.get(p);
    if (!i) info.set(p, (i = { accessed: new Set(), enumerated: false }));
    return i;
  };
  const wrap = (v, p) => {
    if (v === null || typeof v !== "object") return v;
    if (proxies.has(v)) return proxies.get(v);
    const px = new Proxy(v, {
      get(t, k, r) {
        if (typeof k === "string" && !Array.isArray(t)) rec(p).accessed.add(k);
        if (typeof k === "string" && Object.prototype.hasOwnProperty.call(t, k)) {
          return wrap(t[k], `${p}/${k}`);
        }
        return Reflect.get(t, k, r);
      },
      has(t, k) {
        if (typeof k === "string") rec(p).accessed.add(k);
        return Reflect.has(t, k);
      },
      ownKeys(t) {
        rec(p).enumerated = true;
        return Reflect.ownKeys(t);
      },
      getOwnPropertyDescriptor(t, k) {
        rec(p).enumerated = true;
        return Reflect.getOwnPropertyDescriptor(t, k);
      },
    });
    proxies.set(v, px);
    return px;
  };
  return { proxy: wrap(root, ""), info };
}

function undefinedFields(obj, info, pkg, notes) {
  const out = [];
  const walk = (v, p) => {
    if (v === null || typeof v !== "object") return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${p}/${i}`));
      return;
    }
    const i = info.get(p);
    if (!i) return; // never looked into: opaque to the schema
    for (const k of Object.keys(v)) {
      if (i.enumerated || i.accessed.has(k)) {
        walk(v[k], `${p}/${k}`);
      } else if (k === "description" && DROPPED_DESCRIPTION.has(pkg) && typeof v[k] === "string") {
        notes.push(`${p}/${k}: accepted (the package's schema lost its "description" properties)`);
      } else {
        out.push(`${p}/${k}`);
      }
    }
  };
  walk(obj, "");
  return out;
}

const items = JSON.parse(fs.readFileSync(input, "utf8"));
const results = [];
for (const { id, object } of items) {
  const key = `${object?.apiVersion}/${object?.kind}`;
  const m = models.get(key);
  if (!m) {
    results.push({ id, model: null, errors: [], unknown: [], notes: [] });
    continue;
  }
  const { proxy, info } = trace(object);
  const errors = [];
  try {
    m.cls.prototype.validate.call(proxy);
  } catch (e) {
    if (Array.isArray(e.errors)) {
      for (const err of e.errors) {
        const where = err.instancePath || "/";
        const params = err.params && Object.keys(err.params).length ? ` ${JSON.stringify(err.params)}` : "";
        errors.push(`${where}: ${err.message}${params}`);
      }
    } else {
      errors.push(String(e && e.message ? e.message : e));
    }
  }
  const notes = [];
  const unknown = undefinedFields(object, info, m.pkg, notes);
  results.push({ id, model: `${m.pkg}@${m.version} ${key}`, errors, unknown, notes });
}
process.stdout.write(JSON.stringify(results));
