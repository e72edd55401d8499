#!/usr/bin/env bash
# Vendor lit-html (BSD-3-Clause) into control-ui/vendor/lit-html/ from the npm registry, with
# npm's own client (`npm pack` checks the registry's sha512 integrity), and record what was
# taken: version, tarball, integrity and the sha256 of every vendored file (VENDOR.json).
# The vendored files are committed; run this only to move to another version:
#
#   scripts/vendor-lit-html.sh            # the pinned version below
#   LIT_HTML_VERSION=3.3.4 scripts/vendor-lit-html.sh
#
# then rebuild the packaged UI: .venv/bin/python scripts/build-control-ui.py
set -euo pipefail
VERSION="${LIT_HTML_VERSION:-3.3.3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$HERE/control-ui/vendor/lit-html"
# The ES modules the UI imports, and what they import in turn (all self-contained, minified).
FILES=(lit-html.js directive.js directive-helpers.js async-directive.js
       directives/repeat.js directives/live.js directives/ref.js directives/class-map.js
       LICENSE)

command -v npm >/dev/null || { echo "vendor-lit-html.sh: npm is required" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "lit-html@$VERSION" >/dev/null)
TARBALL="$WORK/lit-html-$VERSION.tgz"
[[ -f "$TARBALL" ]] || { echo "vendor-lit-html.sh: npm pack gave no $TARBALL" >&2; exit 1; }
INTEGRITY="$(cd "$WORK" && npm view "lit-html@$VERSION" dist.integrity)"
tar -xzf "$TARBALL" -C "$WORK"
rm -rf "$DEST"
mkdir -p "$DEST/directives"
for f in "${FILES[@]}"; do
  cp "$WORK/package/$f" "$DEST/$f"
done
python3 - "$DEST" "$VERSION" "$INTEGRITY" "${FILES[@]}" <<'PY'
import hashlib, json, sys
dest, version, integrity, *files = sys.argv[1:]
record = {
    "package": "lit-html",
    "version": version,
    "license": "BSD-3-Clause",
    "tarball": f"https://registry.npmjs.org/lit-html/-/lit-html-{version}.tgz",
    "integrity": integrity,
    "files": {f: hashlib.sha256(open(f"{dest}/{f}", "rb").read()).hexdigest() for f in files},
}
with open(f"{dest}/VENDOR.json", "w") as out:
    json.dump(record, out, indent=2)
    out.write("\n")
PY
echo "vendored lit-html $VERSION into ${DEST#$HERE/}"
