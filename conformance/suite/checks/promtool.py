"""promtool (Debian package prometheus) on every PromQL expression: Grafana dashboards
(observability/**/*.json and ConfigMaps labelled grafana_dashboard) with their variables
substituted, PrometheusRule objects (`promtool check rules`), and the Prometheus queries of
Argo Rollouts analysis templates with their `{{args.*}}` placeholders substituted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from ..common import StepResult, ToolError, run, tail, tool_path
from ..tree import Tree

# Grafana's built-in variables, substituted before parsing.
BUILTIN = {
    "__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__auto": "5m",
    "__interval_ms": "60000", "__range_ms": "3600000", "__range_s": "3600",
}
VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
DURATION = re.compile(r"^\d+(ms|s|m|h|d|w|y)$")
RULE_ERROR = re.compile(r'group "(?P<group>[^"]*)", rule (?P<rule>\d+)')
# Argo Rollouts resolves every `{{tag}}` of a query (tag trimmed) from the template's
# args, and fails the analysis on a tag it cannot resolve.
ANALYSIS_TAG = re.compile(r"\{\{(.*?)\}\}")
# Stands in for an argument the Rollout passes at run time (a pod template hash).
ARG_PLACEHOLDER = "0123456789"
ANALYSIS_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")


class DuplicateKey(ValueError):
    pass


def _no_dupes(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKey(f"duplicate key {k!r}")
        out[k] = v
    return out


def _variables(dash: dict) -> dict[str, str]:
    """Each dashboard variable's current (or first) value; durations kept as durations."""
    out = {}
    for v in ((dash.get("templating") or {}).get("list") or []):
        if not isinstance(v, dict) or not v.get("name"):
            continue
        val = None
        cur = (v.get("current") or {}).get("value") if isinstance(v.get("current"), dict) else None
        if isinstance(cur, list):
            cur = cur[0] if cur else None
        if isinstance(cur, str) and cur and not cur.startswith("$__"):
            val = cur
        if val is None:
            for opt in v.get("options") or []:
                if isinstance(opt, dict) and isinstance(opt.get("value"), str):
                    val = opt["value"]
                    break
        if val is None and v.get("type") == "interval":
            q = str(v.get("query") or "")
            val = q.split(",")[0].strip() or "5m"
        out[v["name"]] = val if isinstance(val, str) and val else "placeholder"
    return out


def substitute(expr: str, variables: dict[str, str]) -> str:
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTIN:
            return BUILTIN[name]
        if name in variables:
            return variables[name]
        return "placeholder"
    return VAR.sub(repl, expr)


def _datasource_type(ds) -> str | None:
    if isinstance(ds, dict):
        return ds.get("type")
    return None


def dashboard_exprs(dash: dict):
    """(label, expr) of every Prometheus query target in a dashboard, rows included."""
    variables = _variables(dash)
    found = []

    def panels(container, inherited_ds=None):
        for i, p in enumerate(container.get("panels") or []):
            if not isinstance(p, dict):
                continue
            ds = p.get("datasource", inherited_ds)
            title = p.get("title") or f"panel {p.get('id', i)}"
            for t in p.get("targets") or []:
                if not isinstance(t, dict) or not isinstance(t.get("expr"), str):
                    continue
                tds = _datasource_type(t.get("datasource", ds))
                if tds not in (None, "prometheus") and not str(tds).startswith("$"):
                    continue  # Loki and the like: not PromQL
                found.append((f"panel {title!r} target {t.get('refId', '?')}",
                              t["expr"], substitute(t["expr"], variables)))
            panels(p, ds)  # collapsed rows keep their panels inside

    panels(dash)
    return found


def check(tree: Tree) -> StepResult:
    res = StepResult("promtool", unit="expressions")
    exe = tool_path("promtool")
    try:
        if not exe.is_file():
            raise ToolError(f"{exe} missing (Debian package prometheus)")
        v = run([exe, "--version"], timeout=60)
        if v.returncode != 0:
            raise ToolError(f"promtool --version failed: {tail(v.stderr)}")
        res.notes.append(v.stdout.strip().splitlines()[0])
    except ToolError as e:
        res.error = str(e)
        return res

    work = tree.scratch / "promtool"
    work.mkdir(parents=True, exist_ok=True)
    files: list[tuple[Path, str, list]] = []  # (rules file, where, [label per rule] per group)

    # Dashboards: files under observability/, and ConfigMaps labelled grafana_dashboard.
    dashboards: list[tuple[str, str]] = [(tree.rel(p), p.read_text()) for p in tree.dashboards()]
    for o in tree.objects:
        meta = o.obj.get("metadata") or {}
        labels = (meta.get("labels") or {}) if isinstance(meta, dict) else {}
        if o.obj.get("kind") == "ConfigMap" and "grafana_dashboard" in labels:
            for key, text in (o.obj.get("data") or {}).items():
                if key.endswith(".json") and isinstance(text, str):
                    dashboards.append((f"{o.where} data[{key}]", text))
    dash_count = 0
    for n, (where, text) in enumerate(dashboards):
        try:
            dash = json.loads(text, object_pairs_hook=_no_dupes)
        except (ValueError, DuplicateKey) as e:
            res.add(where, f"dashboard is not valid JSON: {e}")
            continue
        if not isinstance(dash, dict):
            res.add(where, "dashboard is not a JSON object")
            continue
        if "dashboard" in dash and "panels" not in dash and isinstance(dash["dashboard"], dict):
            dash = dash["dashboard"]  # API envelope {"dashboard": {...}}
        dash_count += 1
        exprs = dashboard_exprs(dash)
        if not exprs:
            continue
        rules = [{"record": f"dashboard:expr_{i + 1}", "expr": sub} for i, (_, _, sub) in enumerate(exprs)]
        path = work / f"dashboard-{n}.yaml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False))
        files.append((path, where, [[(label, raw) for label, raw, _ in exprs]]))

    # PrometheusRule objects: their groups are a Prometheus rules file as they stand.
    rule_objects = 0
    for n, o in enumerate(o for o in tree.objects if o.obj.get("kind") == "PrometheusRule"
                          and str(o.obj.get("apiVersion", "")).startswith("monitoring.coreos.com/")):
        groups = (o.obj.get("spec") or {}).get("groups")
        if not isinstance(groups, list):
            res.add(o.where, "PrometheusRule has no spec.groups list")
            continue
        rule_objects += 1
        labels = []
        for g in groups:
            rs = g.get("rules") if isinstance(g, dict) else None
            labels.append([(f"group {g.get('name')!r} {'alert' if 'alert' in r else 'record'} "
                            f"{r.get('alert') or r.get('record')!r}", r.get("expr"))
                           for r in rs or [] if isinstance(r, dict)])
        path = work / f"prometheusrule-{n}.yaml"
        path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        files.append((path, o.where, labels))

    # Analysis templates: each Prometheus query, as a recording rule, once its args are in.
    analysis_objects = 0
    for n, o in enumerate(o for o in tree.objects if o.obj.get("kind") in ANALYSIS_KINDS
                          and str(o.obj.get("apiVersion", "")).startswith("argoproj.io/")):
        analysis_objects += 1
        queries, problems = analysis_queries(o.obj)
        for problem in problems:
            res.add(o.where, problem)
        if not queries:
            continue
        rules = [{"record": f"analysis:query_{i + 1}", "expr": sub} for i, (_, _, sub) in enumerate(queries)]
        path = work / f"analysistemplate-{n}.yaml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": rules}]}, sort_keys=False))
        files.append((path, o.where, [[(label, raw) for label, raw, _ in queries]]))

    res.checked = sum(len(rs) for _, _, groups in files for rs in groups)
    res.extra = (f"({dash_count} dashboards, {rule_objects} PrometheusRules, "
                 f"{analysis_objects} analysis templates)")
    for path, where, groups in files:
        proc = run([exe, "check", "rules", path], timeout=120)
        if proc.returncode == 0:
            continue
        out = (proc.stdout + "\n" + proc.stderr)
        problems = [line.strip() for line in out.splitlines()
                    if line.strip().startswith(str(path)) or RULE_ERROR.search(line)]
        if not problems:
            res.add(where, f"promtool check rules failed: {tail(out)}")
            continue
        group_names = _group_names(path)
        for line in problems:
            msg = line.replace(str(path) + ": ", "").replace(str(path), "")
            m = RULE_ERROR.search(line)
            if m:
                gi = group_names.index(m["group"]) if m["group"] in group_names else 0
                ri = int(m["rule"]) - 1
                try:
                    label, raw = groups[gi][ri]
                    msg = re.sub(r'^\d+:\d+: group "[^"]*", rule \d+, "[^"]*": ', "", msg)
                    msg = f"{label}: {msg} — expr: {raw}"
                except IndexError:
                    pass
            res.add(where, msg)
    return res


def analysis_queries(obj: dict) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(label, query, query with args substituted) of every Prometheus metric of an analysis
    template, and the problems found before promtool runs (a placeholder no arg resolves)."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    args = {}
    for a in spec.get("args") or []:
        if isinstance(a, dict) and isinstance(a.get("name"), str):
            # A default value is what Argo Rollouts uses when the Rollout passes none.
            value = a.get("value")
            args[f"args.{a['name']}"] = value if isinstance(value, str) and value else ARG_PLACEHOLDER
    found, problems = [], []
    for i, m in enumerate(spec.get("metrics") or []):
        if not isinstance(m, dict):
            continue
        prom = (m.get("provider") or {}).get("prometheus") if isinstance(m.get("provider"), dict) else None
        if not isinstance(prom, dict) or "query" not in prom:
            continue  # another provider: not PromQL
        label = f"metric {m.get('name', i)!r}"
        query = prom["query"]
        if not isinstance(query, str) or not query.strip():
            problems.append(f"{label}: provider.prometheus.query is not a query: {query!r}")
            continue
        unresolved = sorted({t for t in ANALYSIS_TAG.findall(query) if t.strip() not in args})
        if unresolved:
            tags = ", ".join("{{" + t + "}}" for t in unresolved)
            declared = ", ".join(sorted(n.removeprefix("args.") for n in args)) or "none"
            problems.append(f"{label}: Argo Rollouts cannot resolve {tags} (spec.args: {declared}) "
                            f"— query: {query.strip()}")
            continue
        found.append((label, query.strip(), ANALYSIS_TAG.sub(lambda t: args[t.group(1).strip()], query)))
    return found, problems


def _group_names(path: Path) -> list[str]:
    data = yaml.safe_load(path.read_text()) or {}
    return [g.get("name") for g in data.get("groups", []) if isinstance(g, dict)]
