"""The REAL `openclaw` CLI (2026.9.6, Node) and `openclaw-node` 0.14 against our gateway.

Nothing here is a test double: the real CLI is installed from npm into .cache/reference-openclaw
(scripts/reference-openclaw.sh, once per process), our gateway runs as a child process on a free
loopback port with a token, and every assertion is about what the real client printed and how it
exited. See docs/interop.md.

* `RealCliAgainstOurGateway`: the bar. Each command is checked for what the real CLI needs
  (exit code, JSON keys, the lines it prints), and `*_matches_recording` tests compare with what
  the same command printed against the real gateway (tests/interop/recorded/recorded-cli.md).
* `RealCliAgainstRealNodeGateway`: the same assertions against the real Node gateway: proves the
  harness and the bar are right (~12 s to start the real gateway, once per process).
* `OurGatewayMatchesRealNodeGateway`: runs each command against both in this process and compares
  key sets and the CLI's verdicts.

Run: `.venv/bin/python -m twisted.trial tests.interop`
  or `.venv/bin/python -m pytest tests/interop`.
Without Node/npm the tests skip loudly; with CI=true they fail instead.
OPENCLAW_INTEROP_REAL_GATEWAY=0 skips the two classes that start the real Node gateway.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from twisted.trial.unittest import SynchronousTestCase

from tests.interop.harness import (
    TOKEN,
    URL,
    WRONG_TOKEN,
    CliResult,
    Gateway,
    labelled_lines,
    missing_keys,
    recorded,
    shared_gateway,
)

U = ("--url", URL, "--token", TOKEN)
CALL_HEALTH = ("gateway", "call", "health", "--json", *U)
CALL_STATUS = ("gateway", "call", "status", "--json", *U)
CALL_CONFIG_GET = ("gateway", "call", "config.get", "--json", *U)
CALL_LOGS_TAIL = ("gateway", "call", "logs.tail", "--json", *U)
GATEWAY_STATUS = ("gateway", "status", "--json", *U)
GATEWAY_PROBE = ("gateway", "probe", *U)
# no --url: `openclaw health` only takes OPENCLAW_GATEWAY_URL/TOKEN (oc.sh sets them)
HEALTH = ("health", "--json")
LOGS = ("logs", "--limit", "5", *U)
WRONG = ("gateway", "call", "health", "--json", "--url", URL, "--token", WRONG_TOKEN)
# slowest first: `gateway probe` waits out its 3 s probe budget and Bonjour discovery
EVERY_COMMAND = (GATEWAY_PROBE, CALL_HEALTH, CALL_STATUS, CALL_CONFIG_GET, CALL_LOGS_TAIL,
                 GATEWAY_STATUS, HEALTH, LOGS, WRONG)

# HealthSummary (spec/protocol.md section 5), what `openclaw health` reads.
HEALTH_KEYS = {"ok", "ts", "durationMs", "channels", "channelOrder", "channelLabels",
               "heartbeatSeconds", "defaultAgentId", "agents", "sessions"}
HEALTH_AGENT_KEYS = {"agentId", "isDefault", "heartbeat", "sessions"}
SESSION_STORE_KEYS = {"path", "count", "recent"}
# What `openclaw status` reads from the status RPC (heartbeat, events, tasks and sessions rows).
STATUS_KEYS = {"runtimeVersion", "heartbeat", "channelSummary", "queuedSystemEvents", "tasks",
               "sessions"}
CONFIG_GET_KEYS = {"path", "exists", "raw", "parsed", "resolved", "valid", "config", "hash",
                   "issues", "warnings", "legacyIssues"}
LOGS_TAIL_KEYS = {"file", "cursor", "size", "lines"}
REDACTED = "__OPENCLAW_REDACTED__"
LOG_RECORD_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
# Maps keyed by ids or holding samples: compared at their own level only.
VOLATILE = ("channels", "channelLabels", "sessions.recent", "agents[].sessions.recent")


if TYPE_CHECKING:
    _Base = SynchronousTestCase
else:
    _Base = object  # a mixin: collected only through the TestCase classes below


class RealCliChecks(_Base):
    """What the real CLI needs from a gateway; mixed into one TestCase per gateway kind."""

    kind = "ours"

    # helpers (self is a SynchronousTestCase)

    def gateway(self) -> Gateway:
        gateway = shared_gateway(self.kind)
        gateway.prefetch(EVERY_COMMAND)
        return gateway

    def oc(self, argv: tuple[str, ...]) -> CliResult:
        return self.gateway().cli(*argv)

    def explain(self, result: CliResult, problem: str) -> str:
        return f"{problem}\n{result.describe()}\n{self.gateway().log_tail()}"

    def expect_exit(self, result: CliResult, rc: int) -> None:
        if result.rc != rc:
            self.fail(self.explain(result, f"real CLI exited {result.rc}, expected {rc}"))

    def expect_json_object(self, result: CliResult, keys: set[str], what: str) -> dict[str, Any]:
        self.expect_exit(result, 0)
        value = result.json()
        if not isinstance(value, dict):
            self.fail(self.explain(result, f"{what}: not a JSON object"))
        self.expect_keys(result, value, keys, what)
        return value

    def expect_keys(self, result: CliResult, value: Any, keys: set[str], what: str) -> None:
        have = set(value) if isinstance(value, dict) else set()
        if not keys <= have:
            self.fail(self.explain(
                result, f"{what}: missing keys {sorted(keys - have)} (has {sorted(have)})"))

    def expect_recorded_keys(self, argv: tuple[str, ...], ours: Any, result: CliResult,
                             depth: int = 2, pick: str | None = None) -> None:
        reference = recorded(argv).json()
        if pick is not None:
            reference, ours = reference.get(pick), ours.get(pick)
        missing = missing_keys(reference, ours, depth=depth, skip=VOLATILE)
        if missing:
            self.fail(self.explain(
                result, f"keys the real gateway sent (recorded-cli.md) but this one did not: "
                        f"{missing}"))

    # gateway call <method> --json: prints the RPC payload, exit 0

    def test_gateway_call_health(self) -> None:
        result = self.oc(CALL_HEALTH)
        health = self.expect_json_object(result, HEALTH_KEYS, "health payload")
        self.assertIs(health["ok"], True)
        self.assertIsInstance(health["ts"], int)
        self.assertIsInstance(health["agents"], list)
        self.assertTrue(health["agents"], "health.agents is empty")
        for agent in health["agents"]:
            self.expect_keys(result, agent, HEALTH_AGENT_KEYS, "health.agents[]")
            self.expect_keys(result, agent["sessions"], SESSION_STORE_KEYS,
                             "health.agents[].sessions")
        self.expect_keys(result, health["sessions"], SESSION_STORE_KEYS, "health.sessions")
        self.assertIn(health["defaultAgentId"],
                      [a["agentId"] for a in health["agents"]])

    def test_gateway_call_health_matches_recording(self) -> None:
        result = self.oc(CALL_HEALTH)
        self.expect_exit(result, recorded(CALL_HEALTH).rc)
        self.expect_recorded_keys(CALL_HEALTH, result.json(), result)

    def test_gateway_call_status(self) -> None:
        self.expect_json_object(self.oc(CALL_STATUS), STATUS_KEYS, "status payload")

    def test_gateway_call_status_matches_recording(self) -> None:
        result = self.oc(CALL_STATUS)
        self.expect_exit(result, recorded(CALL_STATUS).rc)
        self.expect_recorded_keys(CALL_STATUS, result.json(), result)

    def test_gateway_call_config_get(self) -> None:
        result = self.oc(CALL_CONFIG_GET)
        snapshot = self.expect_json_object(result, CONFIG_GET_KEYS, "config.get payload")
        gateway = self.gateway()
        self.assertEqual(snapshot["path"], gateway.config_path)
        self.assertIs(snapshot["exists"], True)
        self.assertIs(snapshot["valid"], True)
        self.assertIsInstance(snapshot["issues"], list)
        self.assertNotIn(gateway.token, result.stdout, "config.get leaked the gateway token")
        self.assertEqual(snapshot["config"]["gateway"]["auth"]["token"], REDACTED)
        self.assertIn(REDACTED, snapshot["raw"])

    def test_gateway_call_logs_tail(self) -> None:
        result = self.oc(CALL_LOGS_TAIL)
        tail = self.expect_json_object(result, LOGS_TAIL_KEYS, "logs.tail payload")
        self.assertIsInstance(tail["file"], str)
        self.assertIsInstance(tail["cursor"], int)
        self.assertIsInstance(tail["size"], int)
        self.assertTrue(tail["lines"], "logs.tail returned no lines")
        for line in tail["lines"]:  # JSONL records in the real gateway's (tslog) shape
            record = json.loads(line)
            self.expect_keys(result, record, {"time", "_meta"}, "logs.tail line")

    # gateway status --json: connects as cli/probe, reads hello-ok

    def test_gateway_status_json(self) -> None:
        result = self.oc(GATEWAY_STATUS)
        status = self.expect_json_object(result, {"rpc", "gateway"}, "gateway status --json")
        rpc = status["rpc"]
        if rpc.get("ok") is not True:
            self.fail(self.explain(result, f"Connectivity probe failed: rpc = {rpc}"))
        gateway = self.gateway()
        self.assertEqual(rpc.get("url"), gateway.url)
        self.assertEqual(rpc.get("kind"), "connect")
        self.assertIsInstance(rpc.get("server", {}).get("version"), str)
        self.assertEqual(rpc.get("auth", {}).get("role"), "operator")
        self.assertEqual(status["gateway"].get("probeUrl"), gateway.url)

    def test_gateway_status_json_matches_recording(self) -> None:
        result = self.oc(GATEWAY_STATUS)
        self.expect_exit(result, 0)
        rpc = result.json()["rpc"]
        self.expect_recorded_keys(GATEWAY_STATUS, result.json(), result, depth=3, pick="rpc")
        # a token-only cli/probe connection is granted no scopes by the real gateway
        self.assertEqual(
            (rpc.get("capability"), rpc.get("auth", {}).get("scopes")),
            (recorded(GATEWAY_STATUS).json()["rpc"]["capability"], []))

    # gateway probe: health/status/system-presence/config.get pipelined as cli/probe

    def test_gateway_probe(self) -> None:
        result = self.oc(GATEWAY_PROBE)
        self.expect_exit(result, 0)
        fields = labelled_lines(result.stdout, ["Reachable"])
        if fields.get("Reachable") != "yes":
            self.fail(self.explain(result, "`gateway probe` did not say `Reachable: yes`"))
        self.assertRegex(result.stdout, r"Connect: ok \(\d+ms\)")

    def test_gateway_probe_matches_recording(self) -> None:
        result = self.oc(GATEWAY_PROBE)
        self.expect_exit(result, recorded(GATEWAY_PROBE).rc)
        labels = ["Reachable", "Capability"]
        self.assertEqual(labelled_lines(result.stdout, labels),
                         labelled_lines(recorded(GATEWAY_PROBE).output, labels))
        verdict = re.compile(r"Connect: ok \(\d+ms\) · (.*)$", re.M)
        ours, real = verdict.search(result.stdout), verdict.search(recorded(GATEWAY_PROBE).output)
        assert real is not None
        self.assertEqual(ours and ours.group(1), real.group(1), result.describe())

    # health --json: client gateway-client/backend, `health` without params

    def test_health_json(self) -> None:
        result = self.oc(HEALTH)
        health = self.expect_json_object(result, HEALTH_KEYS, "openclaw health --json")
        self.assertIs(health["ok"], True)

    def test_health_json_matches_recording(self) -> None:
        result = self.oc(HEALTH)
        self.expect_exit(result, recorded(HEALTH).rc)
        self.expect_recorded_keys(HEALTH, result.json(), result)

    # logs --limit 5: logs.tail, re-formatted by the CLI

    def test_logs_limit_5(self) -> None:
        result = self.oc(LOGS)
        self.expect_exit(result, 0)
        lines = result.stdout.splitlines()
        if not lines or not lines[0].startswith("Log file: "):
            self.fail(self.explain(result, "`openclaw logs` did not start with `Log file: `"))
        records = [line for line in lines[1:] if LOG_RECORD_LINE.match(line)]
        if not 1 <= len(records) <= 5:
            self.fail(self.explain(
                result, f"expected 1..5 formatted log records, got {len(records)}"))

    # wrong token: connect refused, the CLI says so and exits 1

    def test_wrong_token(self) -> None:
        result = self.oc(WRONG)
        self.expect_exit(result, 1)
        self.assertIn("gateway connect failed:", result.stderr, result.describe())
        error = result.json().get("error", {})
        self.assertEqual(error.get("type"), "gateway_request_error", result.describe())
        self.assertEqual(error.get("details", {}).get("code"), "AUTH_TOKEN_MISMATCH",
                         result.describe())

    def test_wrong_token_matches_recording(self) -> None:
        result = self.oc(WRONG)
        self.expect_exit(result, recorded(WRONG).rc)
        self.assertEqual(result.json(), recorded(WRONG).json(), result.describe())

    # openclaw-node 0.14 (node_client.mjs): token + signed Ed25519 device identity

    def node_hello(self, result: CliResult) -> dict[str, Any]:
        for line in result.stdout.splitlines():
            if line.startswith("hello-ok: "):
                hello: dict[str, Any] = json.loads(line[len("hello-ok: "):])
                return hello
        self.fail(self.explain(result, "openclaw-node did not connect (no hello-ok)"))
        raise AssertionError  # unreachable

    def test_node_client_connects_with_signed_device(self) -> None:
        result = self.gateway().node_client()
        hello = self.node_hello(result)
        self.assertEqual(hello.get("protocol"), 4, result.describe())
        self.assertIsInstance(hello.get("server", {}).get("version"), str)
        self.assertEqual(hello.get("auth", {}).get("role"), "operator")
        self.assertEqual(sorted(hello.get("auth", {}).get("scopes", [])),
                         ["operator.read", "operator.write"])
        self.assertRegex(result.stdout, r"(?m)^health: ok in ")

    def test_node_client_every_rpc_ok(self) -> None:
        """health, status, models.list, sessions.list, config.get, channels.status all answer."""
        result = self.gateway().node_client()
        failed = [line for line in result.stdout.splitlines() if "FAILED" in line]
        if result.rc != 0 or failed:
            self.fail(self.explain(result, f"openclaw-node calls failed: {failed}"))


class RealCliAgainstOurGateway(RealCliChecks, SynchronousTestCase):
    """The real CLI against OUR gateway (`python -m openclaw gateway --port P --token T`)."""

    kind = "ours"


class RealCliAgainstRealNodeGateway(RealCliChecks, SynchronousTestCase):
    """Harness self-check: the same assertions against the real Node gateway (~12 s start)."""

    kind = "real"


class OurGatewayMatchesRealNodeGateway(SynchronousTestCase):
    """Each command against both gateways, in this process: same keys, same CLI verdicts."""

    def both(self, argv: tuple[str, ...]) -> tuple[CliResult, CliResult]:
        real, ours = shared_gateway("real"), shared_gateway("ours")
        for gateway in (real, ours):
            gateway.prefetch(EVERY_COMMAND)
        return real.cli(*argv), ours.cli(*argv)

    def explain(self, problem: str, ours: CliResult, real: CliResult | None = None) -> str:
        text = f"{problem}\n{ours.describe(1500)}\n{shared_gateway('ours').log_tail(1500)}"
        if real is not None:
            text += f"\n--- the same against the real Node gateway ---\n{real.describe(1500)}"
        return text

    def compare_keys(self, argv: tuple[str, ...], depth: int = 3) -> None:
        real, ours = self.both(argv)
        self.assertEqual(real.rc, 0, real.describe())
        if ours.rc != real.rc:
            self.fail(self.explain(f"exit {ours.rc}, the real gateway's: {real.rc}", ours, real))
        missing = missing_keys(real.json(), ours.json(), depth=depth, skip=VOLATILE)
        if missing:
            self.fail(self.explain(f"keys the real gateway sent that ours did not: {missing}",
                                   ours))

    def test_health_keys(self) -> None:
        self.compare_keys(CALL_HEALTH)

    def test_status_keys(self) -> None:
        self.compare_keys(CALL_STATUS, depth=2)

    def test_config_get_keys(self) -> None:
        # top level only: below it is the (different) config file of each gateway
        self.compare_keys(CALL_CONFIG_GET, depth=1)

    def test_logs_tail_keys(self) -> None:
        self.compare_keys(CALL_LOGS_TAIL, depth=1)

    def test_health_cli_keys(self) -> None:
        self.compare_keys(HEALTH)

    def test_gateway_status_rpc(self) -> None:
        """What the CLI made of hello-ok: ok, kind, capability, auth (granted scopes), server."""
        real, ours = self.both(GATEWAY_STATUS)
        real_rpc, our_rpc = real.json()["rpc"], ours.json()["rpc"]
        problems = [f"missing rpc keys {missing_keys(real_rpc, our_rpc)}"] if missing_keys(
            real_rpc, our_rpc) else []
        problems += [f"rpc.{key}: {our_rpc.get(key)!r} != real {real_rpc.get(key)!r}"
                     for key in ("ok", "kind", "capability", "auth")
                     if our_rpc.get(key) != real_rpc.get(key)]
        if problems:
            self.fail(self.explain("; ".join(problems) + f"\nours: rpc = {json.dumps(our_rpc)}",
                                   ours))

    def test_gateway_probe_verdict(self) -> None:
        real, ours = self.both(GATEWAY_PROBE)
        labels = ["Reachable", "Capability"]
        verdicts = labelled_lines(ours.stdout, labels), labelled_lines(real.stdout, labels)
        if verdicts[0] != verdicts[1] or ours.rc != real.rc:
            self.fail(self.explain(f"ours {verdicts[0]} exit {ours.rc}, real {verdicts[1]} "
                                   f"exit {real.rc}", ours))

    def test_wrong_token_same_error(self) -> None:
        real, ours = self.both(WRONG)
        if (ours.rc, ours.json()) != (real.rc, real.json()):
            self.fail(self.explain("not the real gateway's token-mismatch answer", ours, real))
        self.assertEqual(ours.stderr.strip().splitlines()[-1:],
                         real.stderr.strip().splitlines()[-1:])

    def test_node_client_hello(self) -> None:
        real = shared_gateway("real").node_client()
        ours = shared_gateway("ours").node_client()
        pick = re.compile(r"(?m)^hello-ok: (.*)$")
        real_m, ours_m = pick.search(real.stdout), pick.search(ours.stdout)
        self.assertIsNotNone(real_m, real.describe())
        if ours_m is None:
            self.fail(self.explain("openclaw-node did not connect", ours))
        assert real_m is not None and ours_m is not None
        real_hello, our_hello = json.loads(real_m.group(1)), json.loads(ours_m.group(1))
        self.assertEqual(missing_keys(real_hello, our_hello), [], ours.describe())
        self.assertEqual(our_hello["auth"]["scopes"], real_hello["auth"]["scopes"])
        self.assertEqual(our_hello["protocol"], real_hello["protocol"])
