"""`kubectl kustomize` on every overlay folder; the built objects feed the schema checks."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

from ..common import StepResult, ToolError, kubectl, run, tail
from ..tree import Tree, add_documents

KLOG = re.compile(r"^[EWI]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] ", re.M)


def check(tree: Tree, jobs: int) -> StepResult:
    res = StepResult("kustomize", unit="overlay folders")
    try:
        exe = kubectl()
        probe = run([exe, "version", "--client"], timeout=60)
        if probe.returncode != 0:
            raise ToolError(f"kubectl version --client failed: {tail(probe.stderr)}")
        version = " ".join(probe.stdout.split())
        res.notes.append(version)
    except ToolError as e:
        res.error = str(e)
        return res

    overlays = tree.overlays()
    res.checked = len(overlays)
    out_dir = tree.scratch / "kustomize"

    def build(d):
        return d, run([exe, "kustomize", str(d)], cwd=tree.root, timeout=300)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(build, overlays))
    for d, proc in results:
        rel = tree.rel(d)
        if proc.returncode != 0:
            err = KLOG.sub("", tail(proc.stderr)).replace(f"{tree.root}/", "")
            res.add(rel, "kubectl kustomize failed: " + (err or f"exit {proc.returncode}"))
            continue
        target = out_dir / (rel.replace(os.sep, "__") + ".yaml")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(proc.stdout)
        for problem in add_documents(tree, proc.stdout, f"kustomize:{rel}"):
            res.add(rel, f"build output: {problem}")
        if not proc.stdout.strip():
            res.add(rel, "kubectl kustomize built no objects")
    return res
