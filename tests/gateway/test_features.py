"""``hello-ok.features`` against the real gateway's (openclaw 2026.9.6, from the Control UI
reference): everything we advertise is implemented and exists upstream, and the test prints
what upstream advertises that we do not implement yet."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Final

from twisted.internet.defer import Deferred
from twisted.trial.unittest import TestCase

from tests.agents.support import AgentStack

REFERENCE: Final = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "interop", "data", "control_ui_reference.json")
# The stock UI's methods another issue builds (none left).
PENDING_UI_METHODS: Final = frozenset[str]()
# Upstream's UI calls this gateway answers by not offering the feature (never called then),
# or answers without listing them, as upstream (sessions.usage).
NOT_ADVERTISED_UI_METHODS: Final = frozenset({"plugin.surface.refresh", "sessions.usage"})


def reference() -> dict[str, Any]:
    with open(REFERENCE, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


class FeaturesTests(TestCase):
    timeout = 30

    async def test_features_against_the_real_gateway(self) -> None:
        stack = AgentStack()
        await stack.start()
        self.addCleanup(lambda: Deferred.fromCoroutine(stack.stop()))
        ws = await stack.client()
        hello = next(f["payload"] for f in ws.frames
                     if (f.get("payload") or {}).get("type") == "hello-ok")
        ours = hello["features"]
        real = reference()["helloOk"]["features"]
        registry = stack.factory.methods
        # everything we advertise is registered with a handler, and is an upstream name
        for name in ours["methods"]:
            spec = registry.get(name)
            self.assertIsNotNone(spec, name)
            assert spec is not None
            self.assertTrue(callable(spec.handler), name)
        self.assertEqual(sorted(set(ours["methods"]) - set(real["methods"])), [])
        self.assertEqual(sorted(set(ours["events"]) - set(real["events"])), [])
        self.assertEqual(sorted(set(ours["capabilities"]) - set(real["capabilities"])), [])
        self.assertEqual(len(ours["methods"]), len(set(ours["methods"])))
        # the stock UI's methods: all there but the ones another issue builds
        ui_methods = {name for name, entry in reference()["methods"].items()
                      if entry.get("inIssueList") and name != "connect"}
        missing_ui = ui_methods - set(ours["methods"]) - NOT_ADVERTISED_UI_METHODS
        self.assertEqual(sorted(missing_ui), sorted(PENDING_UI_METHODS))
        # their scopes are upstream's (health: any connection; "dynamic": read at the door)
        policy = {row["name"]: row["scope"] for row in reference()["methodPolicy"]}
        wrong = []
        for name in sorted(ui_methods & set(ours["methods"])):
            spec = registry.get(name)
            assert spec is not None
            expected = {"health": "public", "environments.list": "operator.read"}.get(
                name, policy[name])
            if spec.scope != expected:
                wrong.append((name, spec.scope, expected))
        self.assertEqual(wrong, [])
        missing = [name for name in real["methods"] if name not in ours["methods"]]
        missing_events = [name for name in real["events"] if name not in ours["events"]]
        missing_caps = [c for c in real["capabilities"] if c not in ours["capabilities"]]
        sys.stdout.write(
            f"\nhello-ok.features: {len(ours['methods'])}/{len(real['methods'])} methods, "
            f"{len(ours['events'])}/{len(real['events'])} events, "
            f"{len(ours['capabilities'])}/{len(real['capabilities'])} capabilities of the "
            f"real gateway.\nnot implemented yet ({len(missing)}): {', '.join(missing)}\n"
            f"events not emitted ({len(missing_events)}): {', '.join(missing_events)}\n"
            f"capabilities not offered: {', '.join(missing_caps)}\n")
