"""Renders and lints a generated Helm chart with the real Helm engine (PyPI helm-python-sdk,
Helm 4's Go SDK), for tests/helm.rs.

Input (stdin, JSON):
    {"chart": "<dir>", "kube_version": "v1.32.0",
     "jobs": [{"key": "...", "release": "...", "namespace": "...", "values": ["<file>", ...]}]}
Each job's values files are read with Helm's own YAML reader and merged in order the way
`helm template -f a.yaml -f b.yaml` merges them (maps recursively, later files win); Helm
then coalesces them with the chart's values.yaml (null deletes a default).

Output (stdout, JSON): {"<key>": {"manifests": {"<template path>": "<yaml>"},
                                 "lint": {"messages": [...], "errors": [...]},
                                 "error": null | "<message>"}}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def merge(base: dict, over: dict) -> dict:
    """Helm CLI's mergeMaps (pkg/cli/values): maps merge recursively, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def main() -> int:
    try:
        import helm_python as helm
    except ImportError as e:
        print(f"cannot import helm_python (PyPI helm-python-sdk): {e}", file=sys.stderr)
        return 2
    request = json.load(sys.stdin)
    chart_dir = request["chart"]
    kube_version = request.get("kube_version")
    results = {}
    with helm.Chart.load(chart_dir) as chart:
        for job in request["jobs"]:
            result = {"manifests": {}, "lint": {"messages": [], "errors": []}, "error": None}
            results[job["key"]] = result
            try:
                values: dict = {}
                for file in job["values"]:
                    values = merge(values, helm.values_from_yaml(Path(file).read_text()) or {})
                result["lint"] = helm.lint(
                    chart_dir,
                    values,
                    strict=True,
                    namespace=job["namespace"],
                    kube_version=kube_version,
                )
                result["manifests"] = chart.render(
                    values, name=job["release"], namespace=job["namespace"]
                )
            except helm.HelmError as e:
                result["error"] = f"{type(e).__name__}: {e}"
    json.dump(results, sys.stdout, indent=None, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
