"""Every built-in Kubernetes object against kubernetes-validate's STRICT JSON schemas
(unknown fields fail), all errors collected rather than the first one."""

from __future__ import annotations

import json
import re
from functools import lru_cache

from ..common import K8S_VERSION, StepResult
from ..tree import Tree, is_builtin


def _schema_root():
    import importlib_resources

    return importlib_resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")


@lru_cache(maxsize=None)
def schema_dir() -> str:
    from kubernetes_validate.utils import all_versions, major_minor

    want = major_minor(K8S_VERSION)
    versions = [v for v in all_versions() if major_minor(v) == want]
    if not versions:
        raise RuntimeError(f"kubernetes-validate has no schemas for Kubernetes {K8S_VERSION}")
    return f"v{versions[-1]}-local-strict"


@lru_cache(maxsize=None)
def _definitions():
    from referencing import Resource

    path = _schema_root().joinpath(schema_dir()).joinpath("_definitions.json")
    return Resource.from_contents(json.loads(path.read_text()))


@lru_cache(maxsize=None)
def validator_for(api_version: str, kind: str):
    """As kubernetes_validate.validate() finds it; None when there is no schema."""
    import jsonschema
    from referencing import Registry, Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_root().joinpath(schema_dir()).joinpath(f"{kind.lower()}-{group_version}.json")
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    registry = _definitions() @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def _describe(err) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    where = where.lstrip(".") or "(root)"
    msg = err.message
    if err.context:
        import jsonschema

        best = jsonschema.exceptions.best_match(err.context)
        if best is not None and best.message != msg:
            msg += f" — {best.message}"
    if len(msg) > 400:
        msg = msg[:400] + "…"
    return f"{where}: {msg}"


def check(tree: Tree) -> StepResult:
    res = StepResult("k8s-schema", unit="objects")
    try:
        import kubernetes_validate  # noqa: F401

        res.notes.append(f"kubernetes-validate {kubernetes_validate.__version__}, "
                         f"schemas {schema_dir()} (unknown fields fail)")
    except Exception as e:  # noqa: BLE001
        res.error = f"kubernetes-validate cannot run: {e}"
        return res
    objs = [o for o in tree.objects if is_builtin(o.obj)]
    res.checked = len(objs)
    for o in objs:
        api, kind = str(o.obj.get("apiVersion")), str(o.obj.get("kind"))
        validator = validator_for(api, kind)
        if validator is None:
            res.add(o.where, f"no Kubernetes {K8S_VERSION} schema for {api} {kind} "
                             "(removed or misspelt apiVersion/kind?)")
            continue
        errors = sorted(validator.iter_errors(o.obj), key=lambda e: list(map(str, e.absolute_path)))
        for err in errors:
            res.add(o.where, _describe(err))
    return res
