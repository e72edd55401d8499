#!/usr/bin/env bash
# The test suite's wall time, the way scripts/test.sh runs it (the run's shared real Node
# gateway, then trial and pytest with two workers each), over a list of test modules:
#
#   bench/suite_time.sh                                   # the whole suite
#   bench/suite_time.sh bench/suite_baseline_modules.txt  # the 69 modules of d336a2e (#11)
#
# Prints the seconds of each part; the gateway's start is counted (in scripts/test.sh it runs
# beside ruff and mypy). Needs the environment scripts/test.sh installs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $# -gt 0 ]]; then
  mapfile -t modules < "$1"
else
  modules=(tests)
fi
files=()
for module in "${modules[@]}"; do files+=("${module//.//}"); done
[[ "${files[0]}" == tests ]] || files=("${files[@]/%/.py}")

started=$(date +%s.%N)
source scripts/real-gateway.sh
log_dir="$real_gateway_dir"     # removed with it at exit
real_gateway_start
real_gateway_await
ready=$(date +%s.%N)
set +e
.venv/bin/python -m twisted.trial --jobs=2 "${modules[@]}" > "$log_dir/trial.log" 2>&1
trial_rc=$?
tried=$(date +%s.%N)
.venv/bin/python -m pytest -q -p no:randomly -n 2 "${files[@]}" > "$log_dir/pytest.log" 2>&1
pytest_rc=$?
set -e
done_at=$(date +%s.%N)
tail -1 "$log_dir/trial.log"
tail -1 "$log_dir/pytest.log"
python3 - "$started" "$ready" "$tried" "$done_at" "$real_gateway_said" <<'PY'
import sys
start, ready, tried, done = map(float, sys.argv[1:5])
print(f"shared gateway {sys.argv[5]} after {ready - start:.0f} s; trial {tried - ready:.0f} s; "
      f"pytest {done - tried:.0f} s; total {done - start:.0f} s")
PY
exit $(( trial_rc || pytest_rc ))
