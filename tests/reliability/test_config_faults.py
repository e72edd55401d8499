"""Config faults during load: an invalid file, a half-written file and a burst of rapid valid
writes while runs are in flight. Every run still ends ``final``, the process keeps serving (no
restart), and the last valid config is the one in effect.

``RELIABILITY_CONFIG_RUNS`` (default 40) runs, ``RELIABILITY_CONFIG_WRITES`` (default 50)
rapid writes.
"""

from __future__ import annotations

import json
import tempfile

from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from tests.reliability.harness import (
    FaultUpstream,
    GatewayChild,
    Report,
    chat_terminals,
    count_by,
    gateway_config,
    open_clients,
    reactor,
    send_chats,
    size,
    started,
)

RUNS = size("CONFIG_RUNS", 40)
WRITES = size("CONFIG_WRITES", 50)


class ConfigFaultTests(TestCase):
    timeout = 120

    async def test_config_faults_during_load(self) -> None:
        upstream = FaultUpstream(chunks=10)
        upstream.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        config = gateway_config(upstream.url, timeoutSeconds=100)
        gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-cfg-"), config)
        self.addCleanup(gateway.kill)
        gateway.start()
        await gateway.wait_ready()
        pid = gateway.pid
        client = (await open_clients(gateway.port, 1))[0]
        self.addCleanup(client.close)
        path = gateway.env["OPENCLAW_CONFIG_PATH"]
        items = [(f"cfg-{i}", f"load {i} slow:100", f"cfg-{i}") for i in range(RUNS)]
        sending = Deferred.fromCoroutine(send_chats([client], items))

        def write(text: str) -> None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

        good = json.dumps(config, indent=2)
        mark = gateway.mark()
        write("{ this is not json")
        invalid = await gateway.wait_log("config reload skipped (invalid config)", mark)
        mark = gateway.mark()
        write(good[: len(good) // 2])                       # half-written
        half = await gateway.wait_log("config reload skipped (invalid config)", mark)
        mark = gateway.mark()
        for index in range(WRITES):
            config["agents"]["defaults"]["timeoutSeconds"] = 100 + index
            write(json.dumps(config, indent=2))
            # the writes land in separate reactor turns of the gateway, a few ms apart
            await deferLater(reactor, 0.005, lambda: None)
        acks = await sending
        acked = [run_id for run_id, ack in acks.items() if started(ack)]
        ends = await chat_terminals(client, acked, timeout=90)
        states = count_by(end["state"] if end else "hung" for end in ends.values())
        # the burst is coalesced into one reload, or a few if the writes straddled the
        # debounce: each applied reload is an event; the last write must win
        expected = 100 + WRITES - 1
        seen = None
        for _ in range(WRITES):
            mark, _line = await gateway.next_log("config hot reload applied", mark)
            got = await client.call("config.get", {}, timeout=10)
            seen = (((got.get("payload") or {}).get("config") or {}).get("agents") or {}) \
                .get("defaults", {}).get("timeoutSeconds")
            if seen == expected:
                break
        reloads = gateway.log().count("config hot reload applied")
        report = Report(f"config faults during {RUNS} runs: invalid file, half-written file, "
                        f"{WRITES} rapid writes")
        report.add(f"invalid file: {invalid.strip()[-110:]!r}")
        report.add(f"half-written file: {half.strip()[-110:]!r}")
        report.add(f"runs: acknowledged {len(acked)}/{RUNS}, ends {states}")
        report.add(f"same process: {gateway.pid == pid and gateway.proc.poll() is None}; "
                   f"timeoutSeconds in effect {seen} (last written {expected}); "
                   f"hot reloads applied {reloads}")
        report.emit()
        self.assertEqual(states, {"final": RUNS})
        self.assertIsNone(gateway.proc.poll())
        self.assertEqual(seen, expected)
