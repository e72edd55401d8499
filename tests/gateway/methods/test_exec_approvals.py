"""Exec approvals: the exec tool under ``tools.exec.ask``, decided by a second connection over
a real WebSocket (approve: the command runs; deny: the tool reports it), the events' audience,
expiry on a fake clock, the policy document (``exec.approvals.get|set``) and the RPC flow
(``exec.approval.request|list|get|waitDecision|resolve``)."""

from __future__ import annotations

import os
from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from openclaw.agents.approvals import command_executables, effective_policy
from openclaw.config import parse_config_text
from openclaw.gateway.methods.approvals import ExecApprovalManager
from openclaw.gateway.protocol.events import EventBus, IEventRecipient
from openclaw.gateway.protocol.session import ClientSession
from tests.agents.support import AgentStack, WsClient
from tests.upstream import openai_text, openai_tool_call


def in_workspace(stack: AgentStack, name: str, read: bool = False) -> Any:
    """Whether the workspace has ``name`` (``read``: its text)."""
    path = os.path.join(stack.workspace, name)
    if not read:
        return os.path.exists(path)
    with open(path) as handle:
        return handle.read()


def snapshot(config: dict[str, Any]) -> Any:
    import json

    return parse_config_text(json.dumps(config), "/x/openclaw.json", env={}, home="/x")


class PolicyTests(SynchronousTestCase):
    def test_the_stricter_of_config_and_document(self) -> None:
        config = snapshot({"tools": {"exec": {"ask": "on-miss", "security": "full"}}})
        document = {"defaults": {"security": "allowlist", "ask": "off"},
                    "agents": {"*": {"allowlist": [{"pattern": "/usr/bin/*"}]},
                               "main": {"allowlist": [{"pattern": "~/bin/tool"}]}}}
        policy = effective_policy(config, document, "main")
        self.assertEqual((policy.security, policy.ask, policy.ask_fallback),
                         ("allowlist", "on-miss", "deny"))
        self.assertEqual(policy.allowlist, ("/usr/bin/*", "~/bin/tool"))
        self.assertTrue(policy.allowlisted(["/usr/bin/ls", "/usr/bin/wc"]))
        self.assertFalse(policy.allowlisted(["/usr/bin/ls", "/opt/x"]))
        self.assertFalse(policy.allowlisted(None))
        # nothing configured: full, off, deny (upstream's resolved defaults)
        plain = effective_policy(snapshot({}), {}, "main")
        self.assertEqual((plain.security, plain.ask, plain.ask_fallback), ("full", "off", "deny"))

    def test_executables_of_a_shell_command(self) -> None:
        found = command_executables("FOO=1 ls -la /tmp | wc -l && ./run.sh", "/work")
        assert found is not None
        self.assertEqual(found[0], os.path.realpath(str(__import__("shutil").which("ls"))))
        self.assertEqual(found[2], "/work/run.sh")
        self.assertIsNone(command_executables("echo $(id)", "/"))
        self.assertIsNone(command_executables("echo 'unbalanced", "/"))


@implementer(IEventRecipient)
@attrs.define
class Recipient:
    """A connection as the bus sees it, keeping what it was sent."""

    session: ClientSession
    frames: list[Any] = attrs.Factory(list)

    @property
    def conn_id(self) -> str:
        return self.session.conn_id

    @property
    def role(self) -> str:
        return self.session.role

    @property
    def scopes(self) -> tuple[str, ...]:
        return self.session.scopes

    def deliver_event(self, event: Any, drop_if_slow: bool, with_seq: bool) -> None:
        self.frames.append(event)


@attrs.define
class Context:
    events: EventBus


def session(conn: str, *, caps: tuple[str, ...] = (), client: str = "cli",
            scopes: tuple[str, ...] = ("operator.admin",)) -> ClientSession:
    return ClientSession(conn, "operator", scopes, 4, {"id": client, "mode": "cli"}, caps)


class ManagerTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        bus = EventBus()
        bus.register_event("exec.approval.requested", ("operator.approvals",))
        self.reviewer = Recipient(session("r", caps=("approvals",)))
        self.ui = Recipient(session("u", client="openclaw-control-ui",
                                    scopes=("operator.approvals",)))
        self.bystander = Recipient(session("b"))
        for recipient in (self.reviewer, self.ui, self.bystander):
            bus.subscribe(recipient)
        self.manager = ExecApprovalManager(Context(bus), self.clock)

    def test_a_tool_request_expires_when_nobody_decides(self) -> None:
        ids: list[str] = []
        waiting = self.manager.tool_requester({"command": "ls", "agentId": "main"}, 60_000,
                                              ids.append)
        self.assertEqual(len(self.reviewer.frames), 1)
        self.assertEqual(len(self.ui.frames), 1)            # the Control UI reviews
        self.assertEqual(self.bystander.frames, [])          # a plain CLI does not
        self.clock.advance(59.9)
        self.assertNoResult(waiting)
        self.clock.advance(0.2)
        self.assertIsNone(self.successResultOf(waiting))
        approval = self.manager.approvals[ids[0]]
        self.assertEqual(approval.terminal_reason, "timeout")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_no_reviewer_means_no_wait(self) -> None:
        for recipient in (self.reviewer, self.ui):
            self.manager.context.events.unsubscribe(recipient)
        waiting = self.manager.tool_requester({"command": "ls"}, 60_000, lambda _: None)
        self.assertIsNone(self.successResultOf(waiting))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_a_cancelled_wait_expires_the_approval(self) -> None:
        ids: list[str] = []
        waiting = self.manager.tool_requester({"command": "ls"}, 60_000, ids.append)
        waiting.cancel()
        self.failureResultOf(waiting)
        self.assertEqual(self.manager.approvals[ids[0]].terminal_reason, "run-aborted")


class ExecApprovalFlowTests(TestCase):
    timeout = 60

    async def make(self, config: dict[str, Any]) -> AgentStack:
        stack = AgentStack()
        await stack.start(config)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack

    async def tool_text(self, stack: AgentStack, ws: WsClient, run: str) -> str:
        await ws.chat_terminal(run, timeout=30)
        return str(stack.upstream.requests[1].json["messages"][-1]["content"])

    async def run_exec(self, stack: AgentStack, command: str, run: str) -> WsClient:
        stack.upstream.script(openai_tool_call("exec", {"command": command}),
                              openai_text("done"))
        ws = await stack.client()
        await ws.call("chat.send", {"sessionKey": "main", "message": "run it",
                                    "idempotencyKey": run})
        return ws

    async def test_a_second_connection_approves_and_the_command_runs(self) -> None:
        stack = await self.make({"tools": {"exec": {"ask": "always"}}})
        reviewer = await stack.client(caps=["approvals"])
        bystander = await stack.client()
        requested = reviewer.event("exec.approval.requested")
        ws = await self.run_exec(stack, "echo approved > approved.txt", "a-1")
        event = (await requested)["payload"]
        request = event["request"]
        self.assertEqual(event["approvalKind"], "exec")
        self.assertEqual(request["command"], "echo approved > approved.txt")
        self.assertEqual((request["agentId"], request["sessionKey"], request["host"]),
                         ("main", "agent:main:main", "gateway"))
        self.assertEqual(request["allowedDecisions"], ["allow-once", "deny"])
        self.assertEqual(request["runId"], "a-1")
        self.assertFalse(in_workspace(stack, "approved.txt"))
        listed = (await reviewer.call("exec.approval.list", {}))["payload"]
        self.assertEqual([a["id"] for a in listed], [event["id"]])
        resolved = reviewer.event("exec.approval.resolved")
        answer = await reviewer.call("exec.approval.resolve",
                                     {"id": event["id"][:8], "decision": "allow-once"})
        self.assertEqual(answer["payload"], {"ok": True})
        self.assertEqual((await resolved)["payload"]["decision"], "allow-once")
        text = await self.tool_text(stack, ws, "a-1")
        self.assertNotIn("denied", text)
        self.assertEqual(in_workspace(stack, "approved.txt", read=True), "approved\n")
        # the starter and a plain CLI are not reviewers: neither saw the approval
        for client in (ws, bystander):
            self.assertEqual(client.events("exec.approval.requested"), [])
            self.assertEqual(client.events("exec.approval.resolved"), [])
        self.assertEqual((await reviewer.call("exec.approval.list", {}))["payload"], [])

    async def test_a_denied_command_is_reported_by_the_tool(self) -> None:
        stack = await self.make({"tools": {"exec": {"ask": "always"}}})
        reviewer = await stack.client(caps=["exec-approvals"])
        requested = reviewer.event("exec.approval.requested")
        ws = await self.run_exec(stack, "touch denied.txt", "d-1")
        event = (await requested)["payload"]
        await reviewer.call("exec.approval.resolve", {"id": event["id"], "decision": "deny"})
        text = await self.tool_text(stack, ws, "d-1")
        self.assertEqual(text, f"Exec denied (gateway id={event['id']}, user-denied): "
                               "touch denied.txt")
        self.assertFalse(in_workspace(stack, "denied.txt"))
        again = await reviewer.call("exec.approval.resolve",
                                    {"id": event["id"], "decision": "deny"})
        self.assertEqual(again["payload"], {"ok": True})
        other = await reviewer.call("exec.approval.resolve",
                                    {"id": event["id"], "decision": "allow-once"})
        self.assertEqual(other["error"]["message"], "approval already resolved")

    async def test_without_a_reviewer_the_fallback_decides(self) -> None:
        stack = await self.make({"tools": {"exec": {"ask": "always"}}})
        ws = await self.run_exec(stack, "touch nobody.txt", "n-1")
        text = await self.tool_text(stack, ws, "n-1")
        self.assertRegex(text, r"^Exec denied \(gateway id=[0-9a-f-]+, approval-timeout\): "
                               r"touch nobody\.txt$")
        self.assertFalse(in_workspace(stack, "nobody.txt"))
        # askFallback "full" in the policy document: the command runs without an answer
        admin = await stack.client()
        current = (await admin.call("exec.approvals.get", {}))["payload"]
        file = dict(current["file"], defaults={"askFallback": "full"})
        await admin.call("exec.approvals.set", {"file": file, "baseHash": current["hash"]})
        ws = await self.run_exec(stack, "touch fallback.txt", "n-2")
        await ws.chat_terminal("n-2", timeout=30)
        self.assertTrue(in_workspace(stack, "fallback.txt"))

    async def test_allow_always_adds_the_executable_to_the_allowlist(self) -> None:
        stack = await self.make({"tools": {"exec": {"ask": "on-miss",
                                                    "security": "allowlist"}}})
        reviewer = await stack.client(caps=["approvals"])
        requested = reviewer.event("exec.approval.requested")
        ws = await self.run_exec(stack, "touch first.txt", "l-1")
        event = (await requested)["payload"]
        self.assertEqual(event["request"]["allowedDecisions"],
                         ["allow-once", "allow-always", "deny"])
        await reviewer.call("exec.approval.resolve", {"id": event["id"],
                                                      "decision": "allow-always"})
        await ws.chat_terminal("l-1", timeout=30)
        policy = (await reviewer.call("exec.approvals.get", {}))["payload"]["file"]
        entry = policy["agents"]["main"]["allowlist"][0]
        self.assertEqual(entry["source"], "allow-always")
        self.assertEqual(os.path.basename(entry["pattern"]), "touch")
        # the next touch runs without asking
        del stack.upstream.requests[:]
        ws = await self.run_exec(stack, "touch second.txt", "l-2")
        await ws.chat_terminal("l-2", timeout=30)
        self.assertTrue(in_workspace(stack, "second.txt"))
        self.assertEqual(len(reviewer.events("exec.approval.requested")), 1)

    async def test_the_policy_document_over_rpc(self) -> None:
        stack = await self.make({})
        admin = await stack.client()
        got = (await admin.call("exec.approvals.get", {}))["payload"]
        self.assertTrue(got["exists"])
        self.assertTrue(got["path"].endswith("gateway.sqlite#exec_approvals_config"))
        self.assertEqual(got["file"]["version"], 1)
        self.assertNotIn("token", got["file"]["socket"])
        self.assertEqual(got["resolvedDefaults"], {"security": "full", "ask": "off",
                                                   "askFallback": "deny",
                                                   "autoAllowSkills": False})
        file = dict(got["file"], defaults={"security": "allowlist", "ask": "on-miss"})
        null = await admin.call("exec.approvals.set", {"file": file, "baseHash": None})
        self.assertEqual(null["error"]["message"],
                         "invalid exec.approvals.set params: at /baseHash: must be string")
        stale = await admin.call("exec.approvals.set", {"file": file, "baseHash": "0" * 64})
        self.assertEqual(stale["error"]["message"], "exec approvals changed since last load; "
                                                    "re-run exec.approvals.get and retry")
        done = (await admin.call("exec.approvals.set", {"file": file,
                                                        "baseHash": got["hash"]}))["payload"]
        self.assertNotEqual(done["hash"], got["hash"])
        self.assertEqual(done["resolvedDefaults"]["security"], "allowlist")
        self.assertNotIn("token", done["file"]["socket"])
        reader = await stack.client(scopes=["operator.read", "operator.approvals"])
        refused = await reader.call("exec.approvals.get", {})
        self.assertEqual(refused["error"]["code"], "FORBIDDEN")
        self.assertIn("operator.admin", refused["error"]["message"])

    async def test_request_and_wait_over_rpc(self) -> None:
        stack = await self.make({})
        requester = await stack.client()
        alone = (await requester.call("exec.approval.request", {
            "command": "ls -la /tmp", "cwd": "/tmp", "host": "gateway",
            "timeoutMs": 60000}))["payload"]
        self.assertIsNone(alone["decision"])        # nobody could review: expired at once
        self.assertEqual(alone["expiresAtMs"] - alone["createdAtMs"], 60000)
        reviewer = await stack.client(caps=["approvals"])
        rid = requester.send("exec.approval.request", {
            "command": "ls -la /tmp", "cwd": "/tmp", "host": "gateway", "twoPhase": True,
            "agentId": "main", "sessionKey": "agent:main:main"})
        accepted = (await requester.response(rid))["payload"]
        self.assertEqual((accepted["status"], accepted["deliveryRoute"]),
                         ("accepted", "approval-client"))
        got = (await reviewer.call("exec.approval.get", {"id": accepted["id"]}))["payload"]
        self.assertEqual((got["commandText"], got["host"], got["agentId"]),
                         ("ls -la /tmp", "gateway", "main"))
        waiting = requester.send("exec.approval.waitDecision", {"id": accepted["id"]})
        await reviewer.call("exec.approval.resolve", {"id": accepted["id"], "decision": "deny"})
        decided = (await requester.response(waiting))["payload"]
        self.assertEqual(decided["decision"], "deny")
        final = (await requester.response(rid, final=True))["payload"]
        self.assertEqual(final["decision"], "deny")
        unknown = await reviewer.call("exec.approval.resolve", {"id": "nope",
                                                                "decision": "deny"})
        self.assertEqual(unknown["error"]["message"], "unknown or expired approval id")
        bad = await reviewer.call("exec.approval.resolve", {"id": "x", "decision": "maybe"})
        self.assertEqual(bad["error"]["message"], "invalid decision")
