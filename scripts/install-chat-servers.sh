#!/usr/bin/env bash
# Install the real chat servers the channel tests run against (tests/channels/servers.py):
#
# * ngIRCd, from Debian (apt-get), when `ngircd` is missing and we are root;
# * Synapse, in its own venv under .cache/synapse-venv (it pins its own Twisted, so it never
#   shares ours), built once from PyPI at a pinned version; a marker file records the version.
#
# Exit 0 when both are usable, 1 otherwise (the caller decides: CI fails, elsewhere the
# server tests skip loudly). Idempotent and quick when everything is already there.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"
SYNAPSE_VENV="${SYNAPSE_VENV:-.cache/synapse-venv}"
PYTHON="${PYTHON:-python3}"
status=0

if command -v ngircd >/dev/null 2>&1; then
  echo "ngircd: $(command -v ngircd)"
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "ngircd: installing from Debian"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ngircd \
           >/dev/null 2>&1 \
         || { apt-get update >/dev/null 2>&1 \
              && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
                   ngircd >/dev/null 2>&1; }; }; then
    echo "ngircd: apt-get install failed" >&2
    status=1
  fi
  # Where the package starts a system ngircd (systemd), keep it off: the tests run their own.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now ngircd >/dev/null 2>&1 || true
  fi
else
  echo "ngircd: not installed and not root (apt-get install ngircd)" >&2
  status=1
fi

marker="$SYNAPSE_VENV/.openclaw-synapse-$SYNAPSE_VERSION"
if [[ -f "$marker" ]] && "$SYNAPSE_VENV/bin/python" -c 'import synapse' 2>/dev/null; then
  echo "synapse: $SYNAPSE_VENV ($SYNAPSE_VERSION)"
else
  echo "synapse: building $SYNAPSE_VENV (matrix-synapse==$SYNAPSE_VERSION, about 20 s)"
  rm -rf "$SYNAPSE_VENV"
  if "$PYTHON" -m venv "$SYNAPSE_VENV" \
     && "$SYNAPSE_VENV/bin/python" -m pip install --quiet --upgrade pip 2>/dev/null \
     && "$SYNAPSE_VENV/bin/python" -m pip install --quiet "matrix-synapse==$SYNAPSE_VERSION" \
     && "$SYNAPSE_VENV/bin/python" -c 'import synapse'; then
    touch "$marker"
  else
    echo "synapse: install failed" >&2
    status=1
  fi
fi
exit "$status"
