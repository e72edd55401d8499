"""One real Node gateway for a whole test run, shared by every runner and worker.

    python -m tests.interop.run_real_gateway STATE_FILE

Starts the reference gateway (:class:`~tests.interop.harness.RealNodeGateway`), writes
STATE_FILE (port, token, log, config, the folder of shared CLI results) once it is ready,
prints ``ready`` (or ``error: ...``) on stdout, and stops it on SIGTERM or SIGINT.
``scripts/test.sh`` runs it beside ruff and mypy and exports
``OPENCLAW_TEST_REAL_GATEWAY=STATE_FILE``: each start of the real gateway costs ~20 s of CPU,
and the suite would otherwise start one in every worker of both runners.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from openclaw.atomic_files import atomic_write_bytes
from tests.interop.harness import RealNodeGateway, require_reference


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.interop.run_real_gateway STATE_FILE", file=sys.stderr)
        return 2
    state_file = argv[0]
    try:
        gateway = RealNodeGateway(require_reference(),
                                  token=f"interop-real-token-shared-{os.getpid()}")
    except BaseException as e:  # said to the script, which falls back
        print(f"error: {e}".replace("\n", " ")[:2000], flush=True)
        return 1
    try:
        gateway.start()
        results = os.path.join(os.path.dirname(os.path.abspath(state_file)), "cli-results")
        os.makedirs(results, exist_ok=True)
        state = {"port": gateway.port, "token": gateway.token, "log": gateway.log_path,
                 "config": gateway.config_path, "results": results}
        atomic_write_bytes(state_file, json.dumps(state).encode())
    except BaseException as e:
        print(f"error: {e}".replace("\n", " ")[:2000], flush=True)
        gateway.stop()
        return 1
    # blocked only now: the gateway must not inherit a mask that hides SIGTERM from it
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    gateway.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
