"""Generate ``upstream_params.json.gz``: the params JSON Schemas of upstream's RPC methods.

The Control UI research extracted every TypeBox params schema of the methods the stock UI
calls (and of the feature methods behind its views) into
``tests/interop/data/control_ui_reference.json``. The methods that validate their params
exactly as upstream does load them from this file (``upstream_schemas.params_schema``), so the
wire contract is data, not hand copies. Run it again when the reference changes::

    python -m openclaw.gateway.methods._gen_upstream_params \
        tests/interop/data/control_ui_reference.json

It writes ``openclaw/gateway/methods/upstream_params.json.gz`` next to this file:
``{"version": "<upstream version>", "methods": {"<name>": <JSON Schema>, ...}}``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import sys
from typing import Any

_DROPPED_KEYS = frozenset({"description", "deprecated", "x-openclaw-since", "title"})


def _strip(node: Any) -> Any:
    """Documentation keys go; ``properties`` keep every name (a field may be "description")."""
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: _strip(sub) for name, sub in value.items()}
        elif key not in _DROPPED_KEYS:
            out[key] = _strip(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="control_ui_reference.json")
    args = parser.parse_args(argv)
    reference = json.loads(pathlib.Path(args.reference).read_text(encoding="utf-8"))
    methods = {name: _strip(entry["paramsSchema"])
               for name, entry in sorted(reference["methods"].items())
               if isinstance(entry.get("paramsSchema"), dict)}
    data = {"version": reference.get("version"), "methods": methods}
    target = pathlib.Path(__file__).with_name("upstream_params.json.gz")
    payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
    with gzip.GzipFile(target, "wb", mtime=0) as handle:
        handle.write(payload)
    print(f"{target}: {len(methods)} methods, {target.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
