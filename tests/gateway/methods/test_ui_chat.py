"""The Control UI's chat and session surface over a real WebSocket, with the agent runtime
and a scripted upstream model: ``chat.startup``/``chat.history`` projections,
``chat.metadata``, ``chat.send`` as the UI calls it (resume flag, timings), session rows in
``sessions.list``/``describe`` and in the events, ``sessions.messages.subscribe`` with
approvals, ``sessions.subscribe`` with a list, viewers, lanes, projects and the
session-scoped empty-by-design answers."""

from __future__ import annotations

import time
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTCP
from twisted.trial.unittest import TestCase

from tests.agents.support import ALL_SCOPES, TOKEN, AgentStack, WsClient
from tests.gateway.protocol.support import DeviceKey
from tests.upstream import openai_text


async def ui_client(stack: AgentStack, scopes: list[str] | None = None) -> WsClient:
    """A WebChat client (an operator UI: timings, the resume flag) with a signed device
    identity, from the gateway's own origin, as a browser connects."""
    client = WsClient(stack.port_number, f"http://127.0.0.1:{stack.port_number}")
    cast(IReactorTCP, reactor).connectTCP("127.0.0.1", stack.port_number, client._factory)
    await client._factory.opened
    challenge = await client.wait_for(lambda f: f.get("event") == "connect.challenge")
    params: dict[str, Any] = {
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "webchat-ui", "version": "2026.9.6", "platform": "linux",
                   "mode": "webchat"},
        "role": "operator", "scopes": scopes if scopes is not None else ALL_SCOPES,
        "caps": ["tool-events"], "auth": {"token": TOKEN}}
    params["device"] = DeviceKey().sign(params, challenge["payload"]["nonce"],
                                        int(time.time() * 1000))
    hello = await client.call("connect", params)
    assert hello.get("ok"), hello
    stack.clients.append(client)
    return client


class UiChatTests(TestCase):
    timeout = 30

    async def make(self, config: dict[str, Any] | None = None) -> AgentStack:
        stack = AgentStack()
        await stack.start(config)
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        return stack

    async def test_startup_send_and_history(self) -> None:
        stack = await self.make()
        ws = await ui_client(stack)
        fresh = (await ws.call("chat.startup", {"sessionKey": "main", "limit": 80,
                                                "maxBytes": 262144}))["payload"]
        self.assertEqual(fresh["sessionKey"], "agent:main:main")
        self.assertEqual((fresh["messages"], fresh["pendingInputs"], fresh["hasMore"]),
                         ([], {"items": [], "total": 0}, False))
        self.assertEqual((fresh["defaults"]["model"], fresh["defaults"]["modelProvider"],
                          fresh["defaults"]["contextTokens"]), ("m1", "scripted", 8192))
        info = fresh["sessionInfo"]
        self.assertEqual((info["key"], info["isMain"], info["hasActiveRun"], info["kind"]),
                         ("agent:main:main", True, False, "direct"))
        short = await ws.call("chat.startup", {"shortId": "abc", "agentId": "main"})
        self.assertEqual(short["payload"], {"resolution": {"ok": False, "candidates": []}})
        bad = await ws.call("chat.startup", {"bogus": 1})
        self.assertEqual(bad["error"]["message"],
                         "invalid chat.startup params: must have required property "
                         "'sessionKey'; at root: unexpected property 'bogus'; must have "
                         "required property 'shortId'; must match a schema in anyOf")
        await ws.call("sessions.messages.subscribe", {"key": "agent:main:main",
                                                      "includeApprovals": True})
        stack.upstream.script(openai_text(["Hi ", "there"], delay=0.05))
        sent = await ws.call("chat.send", {
            "sessionKey": "agent:main:main", "message": "hello", "deliver": False,
            "expectedLeafEntryId": None, "idempotencyKey": "run-ui-1",
            "__controlUiReconnectResume": True})
        self.assertEqual((sent["payload"]["runId"], sent["payload"]["status"]),
                         ("run-ui-1", "started"))
        self.assertEqual(set(sent["payload"]["serverTiming"]), {"loadSessionMs",
                                                                "receivedToAckMs"})
        final = await ws.chat_terminal("run-ui-1")
        self.assertEqual(final["payload"]["state"], "final")
        await ws.wait_for(lambda f: f.get("event") == "chat.send_timing"
                          and f["payload"]["phase"] == "post-dispatch-completed")
        phases = [f["payload"]["phase"] for f in ws.events("chat.send_timing")]
        self.assertEqual(phases, ["dispatch-started", "model-selected", "agent-run-started",
                                  "first-assistant-event", "dispatch-completed",
                                  "post-dispatch-completed"])
        self.assertTrue(all("seq" not in f for f in ws.events("chat.send_timing")))
        selected = ws.events("chat.send_timing")[1]["payload"]
        self.assertEqual((selected["provider"], selected["model"]), ("scripted", "m1"))
        # the user message carries its run id; the assistant one the run that made it
        messages = [f["payload"] for f in ws.events("session.message")]
        user = next(p for p in messages if p["message"]["role"] == "user")
        self.assertEqual(user["message"]["idempotencyKey"], "run-ui-1:user")
        self.assertEqual(user["session"]["key"], "agent:main:main")
        assistant = next(p for p in messages if p["message"]["role"] == "assistant")
        self.assertEqual(assistant["message"]["__openclaw"]["runId"], "run-ui-1")
        self.assertEqual(assistant["runId"], "run-ui-1")
        history = (await ws.call("chat.history", {"sessionKey": "agent:main:main",
                                                  "inputRunIds": ["run-ui-1"],
                                                  "limit": 1000}))["payload"]
        self.assertEqual([m["role"] for m in history["messages"]], ["user", "assistant"])
        self.assertEqual((history["inputReceipts"], history["inputConsumptions"]), ([], []))
        self.assertEqual(history["sessionInfo"]["status"], "done")
        # maxBytes keeps the newest messages
        trimmed = (await ws.call("chat.startup", {"sessionKey": "main", "maxBytes": 1024}
                                 ))["payload"]
        self.assertTrue(trimmed["hasMore"] or len(trimmed["messages"]) == 2)
        # the closed schema still refuses the flag from a non-UI client
        cli = await stack.client()
        refused = await cli.call("chat.send", {"sessionKey": "main", "message": "x",
                                               "idempotencyKey": "k",
                                               "__controlUiReconnectResume": True})
        self.assertEqual(refused["error"]["message"], "invalid chat.send params: at root: "
                                                      "unexpected property "
                                                      "'__controlUiReconnectResume'")
        self.assertFalse(cli.events("chat.send_timing"))

    async def test_metadata_describe_list_and_events(self) -> None:
        stack = await self.make()
        ws = await ui_client(stack)
        metadata = (await ws.call("chat.metadata", {"agentId": "main",
                                                    "sessionKey": "agent:main:main"}))["payload"]
        self.assertEqual([m["id"] for m in metadata["models"]], ["m1"])
        self.assertEqual(metadata["models"][0]["tags"], ["default"])
        self.assertEqual([c["name"] for c in metadata["commands"]], ["stop"])
        self.assertEqual(metadata["accountSelection"]["kind"], "automatic")
        missing = await ws.call("sessions.describe", {"key": "agent:main:does-not-exist"})
        self.assertEqual(missing["payload"], {"session": None})
        subscribed = await ws.call("sessions.subscribe", {"limit": 5})
        self.assertEqual((subscribed["payload"]["subscribed"],
                          subscribed["payload"]["list"]["sessions"]), (True, []))
        stack.upstream.script(openai_text("done"))
        await ws.call("chat.send", {"sessionKey": "main", "message": "first words",
                                    "idempotencyKey": "r1"})
        await ws.chat_terminal("r1")
        described = (await ws.call("sessions.describe", {
            "key": "agent:main:main", "includeDerivedTitles": True,
            "includeLastMessage": True}))["payload"]["session"]
        self.assertEqual((described["derivedTitle"], described["lastMessagePreview"]),
                         ("first words", "done"))
        self.assertEqual(described["createdActor"]["id"], "gateway-owner")
        # the context window, and how much of it the last prompt used
        self.assertEqual((described["contextTokens"], described["totalTokens"]), (8192, 12))
        listed = (await ws.call("sessions.list", {
            "agentId": "main", "configuredAgentsOnly": True, "includeDerivedTitles": True,
            "includeGlobal": True, "includeLastMessage": True, "includeUnknown": True,
            "limit": 200, "ownerFirst": True, "archived": "all", "sortBy": "activity",
            "includePeople": True, "includeActivitySummary": True}))["payload"]
        self.assertEqual((listed["count"], listed["totalCount"], listed["hasMore"],
                          listed["nextOffset"], listed["limitApplied"]), (1, 1, False, None, 200))
        self.assertEqual(listed["sessions"][0]["key"], "agent:main:main")
        self.assertEqual(listed["defaults"]["thinkingLevels"], [{"id": "off", "label": "off"}])
        operator = await stack.client()   # WebChat clients may not patch sessions
        patch = await operator.call("sessions.patch", {"key": "main", "archived": True})
        self.assertTrue(patch["payload"]["ok"])
        hidden = (await ws.call("sessions.list", {}))["payload"]
        self.assertEqual(hidden["sessions"], [])
        shown = (await ws.call("sessions.list", {"archived": True}))["payload"]
        self.assertEqual([r["key"] for r in shown["sessions"]], ["agent:main:main"])
        # sessions.changed carries the whole row, spread at the top level too
        changed = [f["payload"] for f in ws.events("sessions.changed")]
        started = next(p for p in changed if p.get("phase") == "start")
        self.assertEqual((started["session"]["hasActiveRun"], started["runId"],
                          started["status"]), (True, "r1", "running"))
        patched = next(p for p in changed if p.get("reason") == "patch")
        self.assertIs(patched["session"]["archived"], True)
        self.assertEqual(patched["agentId"], "main")

    async def test_subscribe_approvals_viewers_and_empty(self) -> None:
        stack = await self.make()
        reader = await ui_client(stack, scopes=["operator.read"])
        refused = await reader.call("sessions.messages.subscribe",
                                    {"key": "main", "includeApprovals": True})
        self.assertEqual(refused["error"]["message"],
                         "sessions.messages.subscribe includeApprovals requires a paired "
                         "device and gateway scope: operator.approvals")
        ws = await ui_client(stack)
        replay = (await ws.call("sessions.messages.subscribe",
                                {"key": "main", "includeApprovals": True}))["payload"]
        self.assertEqual((replay["subscribed"], replay["key"]), (True, "agent:main:main"))
        self.assertEqual(replay["approvalReplay"]["approvals"], [])
        viewers = await ws.call("sessions.viewers.set", {"sessionKeys": ["main", "main"]})
        self.assertEqual(viewers["payload"], {"sessionKeys": ["agent:main:main"]})
        presence = await ws.call("system-presence")
        watching = [e for e in presence["payload"] if e.get("watchedSessions")]
        self.assertEqual([e["watchedSessions"] for e in watching], [["agent:main:main"]])
        board = await ws.call("board.get", {"agentId": "main", "sessionKey": "main"})
        self.assertEqual(board["payload"], {"sessionKey": "agent:main:main", "revision": 0,
                                            "tabs": [], "widgets": []})
        evidence = (await ws.call("session.members.listEvidence",
                                  {"sessionKey": "main"}))["payload"]
        self.assertEqual((evidence["role"], evidence["members"]), ("admin", []))
        for method, expected in (("progressCard.get", {"card": None}),
                                 ("session.discussion.info", {"state": "none"}),
                                 ("sessions.companion.state", {"exchanges": []}),
                                 ("sessions.branches.list", {"branches": []})):
            reply = await ws.call(method, {"sessionKey": "agent:main:main"})
            self.assertEqual(reply["payload"], expected, method)
        foreign = await ws.call("board.get", {"agentId": "main", "sessionKey": "agent:nobody:x"})
        self.assertEqual(foreign["error"]["code"], "INVALID_REQUEST")
        github = (await ws.call("sessions.github.options", {"sessionKey": "main"}))["payload"]
        self.assertEqual(github["personal"]["state"], "disconnected")
        projects = (await ws.call("projects.list", {}))["payload"]
        self.assertEqual([(p["id"], p["source"]) for p in projects["projects"]],
                         [("workspace:main", "workspace")])
        self.assertEqual(projects["projects"][0]["repoRoot"], stack.workspace)
        read_only = (await reader.call("projects.list", {}))["payload"]
        self.assertNotIn("repoRoot", read_only["projects"][0])

    async def test_lanes_during_a_run(self) -> None:
        stack = await self.make()
        ws = await ui_client(stack)
        stack.upstream.script(openai_text(["slow ", "answer"], delay=0.3))
        await ws.call("chat.send", {"sessionKey": "main", "message": "go",
                                    "idempotencyKey": "lane-1"})
        lanes = (await ws.call("diagnostics.lanes", {}))["payload"]
        self.assertEqual(lanes["lanes"], [{"lane": "session:agent:main:main", "queuedCount": 0,
                                           "activeCount": 1, "maxConcurrent": 1,
                                           "draining": False, "generation": 0,
                                           "blockedBy": None}])
        self.assertEqual(lanes["dynamic"]["activeCount"], 1)
        await ws.chat_terminal("lane-1")
        idle = (await ws.call("diagnostics.lanes", {}))["payload"]
        self.assertEqual((idle["lanes"], idle["dynamic"]["laneCount"]), ([], 0))
