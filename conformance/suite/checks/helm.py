"""Helm (helm-python-sdk, Helm 4's Go SDK): helm/chart loads, lints and renders with
helm/<svc>/values.yaml + values-<env>.yaml; the rendered objects feed the schema checks."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from ..common import K8S_VERSION, StepResult
from ..tree import Tree, add_documents

SEVERITY = {0: "unknown", 1: "info", 2: "warning", 3: "error"}


def merge(base, over):
    """Helm's coalescing of -f files: maps merge recursively, null deletes, the rest replaces."""
    if not isinstance(base, dict) or not isinstance(over, dict):
        return copy.deepcopy(over)
    out = copy.deepcopy(base)
    for k, v in over.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def namespace_for(tree: Tree, svc: str, env: str | None) -> str:
    """The environment's namespace, as the Kustomize overlays set it."""
    if env is None:
        return "default"
    for d in (tree.root / "deploy" / "overlays" / env / svc, tree.root / "deploy" / "overlays" / env):
        k = d / "kustomization.yaml"
        if k.is_file():
            try:
                ns = (yaml.safe_load(k.read_text()) or {}).get("namespace")
            except yaml.YAMLError:
                ns = None
            if isinstance(ns, str) and ns:
                return ns
    return env


def value_sets(tree: Tree, res: StepResult):
    """(svc, env, merged values, label) for every helm/<svc>/values*.yaml combination."""
    helm_dir = tree.root / "helm"
    sets = []
    for svc_dir in sorted(p for p in helm_dir.iterdir() if p.is_dir() and p.name != "chart"):
        base_file = svc_dir / "values.yaml"
        envs = sorted(svc_dir.glob("values-*.yaml"))
        if not base_file.is_file() and not envs:
            continue

        def load(p: Path):
            try:
                data = yaml.safe_load(p.read_text())
            except yaml.YAMLError as e:
                res.add(tree.rel(p), f"values file is not valid YAML: {e}")
                return None
            if data is None:
                return {}
            if not isinstance(data, dict):
                res.add(tree.rel(p), "values file is not a mapping")
                return None
            return data

        base = load(base_file) if base_file.is_file() else {}
        if not base_file.is_file():
            res.add(tree.rel(svc_dir), "values.yaml is missing")
        if base is None:
            continue
        if not envs:
            sets.append((svc_dir.name, None, base, tree.rel(base_file)))
        for env_file in envs:
            over = load(env_file)
            if over is None:
                continue
            env = env_file.stem[len("values-"):]
            sets.append((svc_dir.name, env, merge(base, over),
                         f"{tree.rel(base_file)} + {env_file.name}"))
    return sets


def check(tree: Tree) -> StepResult:
    res = StepResult("helm", unit="value sets")
    chart_dir = tree.root / "helm" / "chart"
    if not chart_dir.is_dir():
        res.nothing = "helm/chart does not exist"
        return res
    try:
        import helm_python as helm
    except Exception as e:  # noqa: BLE001 - any import failure means the tool cannot run
        res.error = f"cannot import helm_python (PyPI helm-python-sdk): {e}"
        return res
    res.notes.append(f"Helm SDK {helm.helm_sdk_version()} (helm-python-sdk {helm.helm_c_version()})")
    chart_rel = tree.rel(chart_dir)

    try:
        chart = helm.Chart.load(str(chart_dir))
    except helm.HelmError as e:
        res.add(chart_rel, f"chart does not load: {e}")
        res.checked = 0
        return res

    sets = value_sets(tree, res)
    if not sets:
        sets = [("release", None, {}, "chart defaults")]
        res.notes.append("no helm/<svc>/values*.yaml: rendered the chart with its defaults")
    res.checked = len(sets)
    out_dir = tree.scratch / "helm"
    seen_lint: set[tuple[str, str]] = set()
    with chart:
        for svc, env, values, label in sets:
            ns = namespace_for(tree, svc, env)
            where = f"helm:{svc}/{env or 'default'}"
            try:
                report = helm.lint(str(chart_dir), values, strict=True, namespace=ns,
                                   kube_version=f"v{K8S_VERSION}.0")
                for m in report.get("messages", []):
                    sev = int(m.get("severity", 0))
                    if sev >= 2:
                        key = (m.get("path", ""), m.get("error", ""))
                        if key not in seen_lint:
                            seen_lint.add(key)
                            res.add(f"{chart_rel}/{m.get('path', '')}",
                                    f"helm lint {SEVERITY.get(sev, sev)} ({label}): {m.get('error')}")
                for err in report.get("errors", []):
                    key = ("", err)
                    if key not in seen_lint and not any(err == k[1] for k in seen_lint):
                        seen_lint.add(key)
                        res.add(chart_rel, f"helm lint ({label}): {err}")
            except helm.HelmError as e:
                res.add(chart_rel, f"helm lint failed ({label}): {e}")
            try:
                manifests = chart.render(values, name=svc, namespace=ns)
            except helm.HelmError as e:
                res.add(chart_rel, f"render failed ({label}, release {svc}, namespace {ns}): {e}")
                continue
            stream = []
            for path in sorted(manifests):
                text = manifests[path]
                if not path.endswith((".yaml", ".yml", ".json")) or not text.strip():
                    continue
                for problem in add_documents(tree, text, where):
                    res.add(f"{where} {path}", f"rendered manifest: {problem}")
                stream.append(f"# Source: {path}\n{text}")
            target = out_dir / svc / f"{env or 'default'}.yaml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("\n---\n".join(stream))
    return res
