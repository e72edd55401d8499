"""Find the stock UI's call sites gated on hello-ok.features (prettified bundle required).

The UI's gateway-runtime chunk exports three helpers: ``s`` = canCall(method, scope) (method
advertised *and* scope granted), ``u`` = isAdvertised(method), ``l`` = hasCapability(cap). For every
chunk that imports them, list the first string literal passed at each call site.

    python gates.py <dir of prettified assets/*.js>   # prints "kind method file..." lines
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

RUNTIME_IMPORT = re.compile(r'import \{([^}]*)\} from "\./gateway-runtime-[\w-]+\.js"')
KINDS = {"s": "canCall", "u": "advertised", "l": "capability"}


def find_gates(folder: Path) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for path in sorted(folder.glob("*.js")):
        text = path.read_text()
        for match in RUNTIME_IMPORT.finditer(text):
            for part in match.group(1).split(","):
                names = part.strip().split(" as ")
                if not names[0]:
                    continue
                exported, local = names[0], names[-1]
                if exported not in KINDS:
                    continue
                for call in re.finditer(r"(?<![\w$.])" + re.escape(local) + r"\(", text):
                    literals = re.findall(r"`([a-zA-Z][\w.-]*)`", text[call.end():call.end() + 200])
                    if literals:
                        found[(KINDS[exported], literals[0])].add(path.name)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    for (kind, method), files in sorted(find_gates(args.folder).items()):
        print(kind, method, " ".join(sorted(files)))


if __name__ == "__main__":
    main()
