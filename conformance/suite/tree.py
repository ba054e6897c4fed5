"""A generated tree: which files each tool looks at, and the objects built from it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SKIP_DIRS = {".git", ".bulkhead", "node_modules", "target"}
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass
class KObject:
    """One Kubernetes object, with every place it came from (builds repeat objects)."""

    obj: dict
    sources: list[str] = field(default_factory=list)

    @property
    def ident(self) -> str:
        meta = self.obj.get("metadata") or {}
        kind = self.obj.get("kind", "?")
        name = meta.get("name", "?") if isinstance(meta, dict) else "?"
        ns = meta.get("namespace") if isinstance(meta, dict) else None
        return f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"

    @property
    def where(self) -> str:
        """The most specific origin (deploy/overlays/dev/orders before deploy/overlays/dev)."""
        first = max(self.sources, key=lambda s: (s.count("/"), -self.sources.index(s)))
        more = f" (+{len(self.sources) - 1} more)" if len(self.sources) > 1 else ""
        return f"{first}{more} {self.ident}"

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.obj, sort_keys=True).encode()).hexdigest()[:12]


class ObjectSet:
    def __init__(self) -> None:
        self._by_key: dict[str, KObject] = {}

    def add(self, obj: dict, source: str) -> None:
        key = json.dumps(obj, sort_keys=True, default=str)
        found = self._by_key.get(key)
        if found is None:
            self._by_key[key] = KObject(obj, [source])
        elif source not in found.sources:
            found.sources.append(source)

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)


BUILTIN_GROUP = re.compile(r"^([a-z0-9-]+|[a-z0-9.-]+\.k8s\.io)$")


def api_group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def is_builtin(obj: dict) -> bool:
    """Core Kubernetes groups ("" / apps / batch / *.k8s.io); everything else is a custom resource."""
    group = api_group(str(obj.get("apiVersion", "")))
    return group == "" or bool(BUILTIN_GROUP.match(group))


class Tree:
    def __init__(self, root: Path, name: str, scratch: Path) -> None:
        self.root = root
        self.name = name
        self.scratch = scratch  # rendered manifests and tool inputs go here
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.files = sorted(self._walk(root))
        self.objects = ObjectSet()  # filled by kustomize, Helm and plain YAML
        self.rendered_files: list[tuple[Path, KObject]] = []

    def _walk(self, d: Path):
        for p in sorted(d.iterdir()):
            if p.is_symlink():
                continue
            if p.is_dir():
                if p.name not in SKIP_DIRS:
                    yield from self._walk(p)
            elif p.is_file():
                yield p

    def rel(self, p: Path) -> str:
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)

    # --- what each tool looks at -------------------------------------------------

    def yaml_files(self) -> list[Path]:
        """Every YAML file except Helm templates (Go templates, not YAML)."""
        return [p for p in self.files
                if p.suffix in (".yaml", ".yml") and not self.is_helm_template(p)]

    def is_helm_template(self, p: Path) -> bool:
        parts = Path(self.rel(p)).parts
        return len(parts) >= 4 and parts[0] == "helm" and "templates" in parts[2:-1]

    def dockerfiles(self) -> list[Path]:
        return [p for p in self.files
                if p.name == "Dockerfile" or p.name.startswith("Dockerfile.")
                or p.name.endswith(".Dockerfile") or p.name.endswith(".dockerfile")]

    def workflows(self) -> list[Path]:
        wf = self.root / ".github" / "workflows"
        return [p for p in self.files if p.parent == wf and p.suffix in (".yaml", ".yml")]

    def dashboards(self) -> list[Path]:
        obs = self.root / "observability"
        return [p for p in self.files if p.suffix == ".json" and obs in p.parents]

    def overlays(self) -> list[Path]:
        """Every kustomization under deploy/overlays (components are not buildable alone)."""
        base = self.root / "deploy" / "overlays"
        out = []
        for p in self.files:
            if p.name in KUSTOMIZATION_NAMES and base in p.parents:
                try:
                    doc = yaml.safe_load(p.read_text())
                except (yaml.YAMLError, UnicodeDecodeError):
                    doc = None  # kustomize will say what is wrong with it
                if isinstance(doc, dict) and doc.get("kind") == "Component":
                    continue
                out.append(p.parent)
        return out

    def plain_manifest_files(self) -> list[Path]:
        """YAML outside what the builds cover: not deploy/ (kustomize), helm/, workflows;
        not a kustomization (argocd/<env>/'s lists the Applications read here one by one)."""
        out = []
        for p in self.yaml_files():
            top = Path(self.rel(p)).parts[0]
            if top in ("deploy", "helm", ".github") or p.name in KUSTOMIZATION_NAMES:
                continue
            out.append(p)
        return out


def load_documents(text: str) -> list:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def add_documents(tree: Tree, text: str, source: str) -> list[str]:
    """Parse a multi-document YAML stream into the tree's objects; returns problems."""
    problems = []
    try:
        docs = load_documents(text)
    except yaml.YAMLError as e:
        return [f"not valid YAML: {e}"]
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            problems.append(f"document {i + 1} is not a mapping")
            continue
        if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            for item in doc["items"]:
                tree.objects.add(item, source)
            continue
        if "apiVersion" not in doc or "kind" not in doc:
            continue
        tree.objects.add(doc, source)
    return problems
