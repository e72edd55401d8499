"""Summarise frame logs (capture.py / probe.py JSONL) per method: params seen, results, errors.

    python capsum.py --out capture-methods.json frames1.jsonl probe1.jsonl ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def summarise(files: list[Path]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in files:
        requests: dict[tuple[int, str], dict[str, Any]] = {}
        with path.open() as handle:
            for line in handle:
                rec = json.loads(line)
                data = rec["data"]
                if rec["dir"] == "c2s" and data.get("type") == "req":
                    requests[(rec["conn"], data["id"])] = data
                    entry = out.setdefault(data["method"], {"params": [], "results": [],
                                                            "errors": [], "count": 0,
                                                            "views": []})
                    entry["count"] += 1
                    if rec["view"] not in entry["views"]:
                        entry["views"].append(rec["view"])
                    params = data.get("params")
                    if params not in entry["params"] and len(entry["params"]) < 6:
                        entry["params"].append(params)
                elif rec["dir"] == "s2c" and data.get("type") == "res":
                    request = requests.get((rec["conn"], data["id"]))
                    if request is None:
                        continue
                    entry = out[request["method"]]
                    if data.get("ok"):
                        if len(entry["results"]) < 2:
                            entry["results"].append(data.get("payload"))
                    else:
                        entry["errors"].append(data.get("error"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    summary = summarise(args.files)
    args.out.write_text(json.dumps(summary, indent=1, sort_keys=True))
    for method in sorted(summary):
        entry = summary[method]
        print(method, entry["count"], "ERR" if entry["errors"] else "")


if __name__ == "__main__":
    main()
