"""Custom resources (Istio, Argo CD, Argo Rollouts, prometheus-operator, KEDA, cert-manager)
against the schemas of the pinned @kubernetes-models npm packages; fields the schema does not define fail
(see conformance/node/crd-validate.mjs for how they are found). A kind no package defines
is a failure, not a skip.

NACK's jetstream.nats.io resources have no schema package on any registry CI reaches: the
nats step judges them instead, on a real nats-server (checks/nats_server.py)."""

from __future__ import annotations

import json

from ..common import CONF, NODE_MODULES, StepResult, ToolError, node, run, tail
from ..tree import Tree, api_group, is_builtin
from .nats_server import GROUP as NATS_GROUP

SCRIPT = CONF / "node" / "crd-validate.mjs"


def probe() -> dict:
    proc = run([node(), SCRIPT, NODE_MODULES, "--list"], timeout=120)
    if proc.returncode != 0:
        raise ToolError(f"crd-validate.mjs --list failed: {tail(proc.stderr)}")
    return json.loads(proc.stdout)


def check(tree: Tree) -> StepResult:
    res = StepResult("crd-schema", unit="objects")
    try:
        packages = probe()
    except (ToolError, ValueError) as e:
        res.error = f"npm @kubernetes-models packages cannot run: {e}"
        return res
    res.notes.append("schemas: " + ", ".join(
        f"{pkg} ({len(kinds)} kinds)" for pkg, kinds in sorted(packages.items())))
    objs = [o for o in tree.objects if not is_builtin(o.obj)]
    nats = [o for o in objs if api_group(str(o.obj.get("apiVersion", ""))) == NATS_GROUP]
    if nats:
        objs = [o for o in objs if api_group(str(o.obj.get("apiVersion", ""))) != NATS_GROUP]
        res.notes.append(f"{len(nats)} {NATS_GROUP} objects (NACK) left to the nats step: "
                         "created on a real nats-server, as no schema package exists for them")
    res.checked = len(objs)
    if not objs:
        return res
    inp = tree.scratch / "crd-input.json"
    inp.write_text(json.dumps([{"id": i, "object": o.obj} for i, o in enumerate(objs)]))
    proc = run([node(), SCRIPT, NODE_MODULES, inp], timeout=300)
    if proc.returncode != 0:
        res.error = f"crd-validate.mjs failed: {tail(proc.stderr)}"
        return res
    try:
        results = json.loads(proc.stdout)
    except ValueError as e:
        res.error = f"crd-validate.mjs printed no JSON: {e}"
        return res
    for r in results:
        o = objs[r["id"]]
        if r["model"] is None:
            res.add(o.where, f"no known schema for {o.obj.get('apiVersion')} {o.obj.get('kind')} "
                             "(not in the pinned Istio / Argo CD / Argo Rollouts / "
                             "prometheus-operator / KEDA / cert-manager packages)")
            continue
        for err in r["errors"]:
            res.add(o.where, f"schema: {err}")
        for path in r["unknown"]:
            res.add(o.where, f"{path}: field not defined by the schema ({r['model']})")
        for note in r["notes"]:
            res.notes.append(f"{o.where}: {note}")
    return res
