"""A `helm` binary for the tests that knows one command, the one `bulkhead audit` runs:

    helm template NAME CHART --namespace NS [-f VALUES]...

It renders with the real Helm engine (PyPI helm-python-sdk, Helm 4's Go SDK, from the
conformance tools venv; run it with that venv's python) and prints what `helm template`
prints: each non-empty manifest as `---`, `# Source: <chart name>/<template>`, the YAML.
Values files merge in order as `helm template -f a -f b` merges them (helm_render.py's
`merge`), then Helm coalesces them with the chart's values.yaml. Anything else it is asked
is a usage error (exit 2), so a change in how bulkhead calls helm shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helm_render import merge  # noqa: E402


def usage(message: str) -> int:
    print(f"Error: {message}", file=sys.stderr)
    print("usage: helm template NAME CHART --namespace NS [-f VALUES]...", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "template":
        return usage(f"this helm only knows `template`, not {argv[:1]}")
    positional: list[str] = []
    namespace = None
    values_files: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if arg in ("--namespace", "-n"):
            namespace = next(args, None)
        elif arg in ("-f", "--values"):
            file = next(args, None)
            if file is None:
                return usage(f"{arg} needs a file")
            values_files.append(file)
        elif arg.startswith("-"):
            return usage(f"unknown flag {arg}")
        else:
            positional.append(arg)
    if len(positional) != 2 or not namespace:
        return usage("expected NAME CHART and --namespace NS")
    name, chart_dir = positional

    try:
        import helm_python as helm
    except ImportError as e:
        print(f"Error: cannot import helm_python (PyPI helm-python-sdk): {e}", file=sys.stderr)
        return 1
    try:
        values: dict = {}
        for file in values_files:
            values = merge(values, helm.values_from_yaml(Path(file).read_text()) or {})
        with helm.Chart.load(chart_dir) as chart:
            manifests = chart.render(values, name=name, namespace=namespace)
    except (helm.HelmError, OSError) as e:
        print(f"Error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    out = []
    for path in sorted(manifests):
        text = manifests[path]
        base = path.rsplit("/", 1)[-1]
        # What `helm template` leaves out: partials, notes, templates that render nothing.
        if base.startswith("_") or base == "NOTES.txt" or not text.strip():
            continue
        for doc in text.split("\n---"):
            if doc.strip():
                out.append(f"---\n# Source: {path}\n{doc.strip(chr(10))}\n")
    sys.stdout.write("".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
