# Sourced by scripts/test.sh and bench/suite_time.sh (from the checkout's root): the run's one
# real Node gateway for tests/interop and tests/cli/test_parity (each start is ~20 s of CPU).
#
#   real_gateway_start   start it in the background (stopped and cleaned up at EXIT)
#   real_gateway_await   wait for its word; when "ready", export OPENCLAW_TEST_REAL_GATEWAY,
#                        else every test process starts its own, as a plain trial run does.
#                        Leaves the word in $real_gateway_said.

real_gateway_dir="$(mktemp -d)"
real_gateway_pid=""
real_gateway_said="not started"

real_gateway_stop() {
  if [[ -n "$real_gateway_pid" ]]; then
    kill "$real_gateway_pid" 2>/dev/null || true
    wait "$real_gateway_pid" 2>/dev/null || true
  fi
  rm -rf "$real_gateway_dir"
}
trap real_gateway_stop EXIT

real_gateway_start() {
  if [[ -x .cache/reference-openclaw/oc.sh && "${OPENCLAW_INTEROP_REAL_GATEWAY:-1}" != 0 ]]; then
    exec 8< <(exec .venv/bin/python -m tests.interop.run_real_gateway \
                   "$real_gateway_dir/state.json")
    real_gateway_pid=$!
  fi
}

real_gateway_await() {
  [[ -n "$real_gateway_pid" ]] || return 0
  read -r -u 8 real_gateway_said || real_gateway_said="error: exited without a word"
  if [[ "$real_gateway_said" == ready ]]; then
    export OPENCLAW_TEST_REAL_GATEWAY="$real_gateway_dir/state.json"
  else
    echo "the shared real gateway did not start ($real_gateway_said): each test process" \
         "starts its own"
  fi
}
