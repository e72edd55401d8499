#!/usr/bin/env bash
# Run the real openclaw CLI (through oc.sh: throw-away client state, loopback only) against a
# gateway on 127.0.0.1:PORT, any implementation, and print a Markdown transcript: per command
# the exit status, wall time and output (token replaced by <TOKEN>, colours stripped). This is
# how tests/interop/recorded/recorded-cli.md was made against the real gateway:
#
#   ./run-gateway.sh 18789 &            # then, once GET /readyz is 200:
#   ./cli_probe.sh 18789 anchor-token > recorded-cli.md
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${1:?usage: cli_probe.sh PORT [TOKEN]}"
TOKEN="${2:-anchor-token}"
MAXOUT="${MAXOUT:-6000}"
export OC_PORT="$PORT" OC_TOKEN="$TOKEN" OC_URL="ws://127.0.0.1:$PORT"
U=(--url "ws://127.0.0.1:$PORT" --token "$TOKEN")

run() {
  echo "### \`openclaw $*\`" | sed "s/$TOKEN/<TOKEN>/g"; echo
  local out start end rc size
  out="$(mktemp)"
  start=$(date +%s%N)
  timeout 120 "$HERE/oc.sh" "$@" > "$out" 2>&1; rc=$?
  end=$(date +%s%N)
  size=$(wc -c < "$out")
  printf 'exit %s, wall %s s, %s bytes\n\n' "$rc" \
    "$(awk -v ns=$((end - start)) 'BEGIN { printf "%.2f", ns / 1e9 }')" "$size"
  echo '```text'
  head -c "$MAXOUT" "$out" | sed "s/$TOKEN/<TOKEN>/g; s/\x1b\[[0-9;]*m//g"
  [[ $size -gt $MAXOUT ]] && printf '\n... [truncated at %s bytes]' "$MAXOUT"
  echo; echo '```'; echo
  rm -f "$out"
}

echo "# openclaw CLI against ws://127.0.0.1:$PORT"
echo
echo "Env for every call (oc.sh): OPENCLAW_GATEWAY_URL=ws://127.0.0.1:$PORT OPENCLAW_GATEWAY_TOKEN=<TOKEN> OPENCLAW_GATEWAY_PORT=$PORT, fresh OPENCLAW_STATE_DIR/OPENCLAW_CONFIG_PATH/HOME."
echo
run gateway status --json "${U[@]}"
run gateway status "${U[@]}"
run health --json
run health
run gateway health --json "${U[@]}"
run gateway probe "${U[@]}"
run gateway probe --json "${U[@]}"
run status
run status --json
run logs --limit 15 --plain "${U[@]}"
run logs --limit 3 --json "${U[@]}"
run gateway call health --json "${U[@]}"
run gateway call status --json "${U[@]}"
run gateway call models.list --json "${U[@]}"
run gateway call no.such.method --json "${U[@]}"
echo "## Wrong token"; echo
run gateway call health --json --url "ws://127.0.0.1:$PORT" --token wrong-token
echo "## Nothing listening"; echo
run gateway call health --json --url "ws://127.0.0.1:9" --token "$TOKEN"
