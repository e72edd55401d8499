"""Buildbot-style reconfiguration helpers: frozen specs, children diffed by name."""

from __future__ import annotations

from typing import Any

import attrs
from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from openclaw.reconfig import NamedServiceSet, SpecService


@attrs.frozen
class AccountSpec:
    token: str


@attrs.frozen
class Update:
    new: Any


class Account(Service):
    def __init__(self, spec: AccountSpec, events: list[str]) -> None:
        self.spec = spec
        self.events = events

    def startService(self) -> None:
        super().startService()
        self.events.append(f"start {self.name} {self.spec.token}")

    def stopService(self) -> None:
        super().stopService()
        self.events.append(f"stop {self.name}")


def specs_of(config: dict[str, Any]) -> dict[str, AccountSpec]:
    return {name: AccountSpec(token) for name, token in config.items()}


class NamedServiceSetTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events: list[str] = []
        self.set: NamedServiceSet[AccountSpec] = NamedServiceSet(
            "channels", specs_of, lambda name, spec: Account(spec, self.events),
            initial={"a": "t1", "b": "t2"})
        root = MultiService()
        self.set.setServiceParent(root)
        root.startService()
        self.events.clear()

    def reconfigure(self, config: dict[str, str]) -> None:
        self.successResultOf(self.set.reconfig_service(Update(config)))

    def test_unchanged_children_keep_running(self) -> None:
        before = self.set.getServiceNamed("a")
        self.reconfigure({"a": "t1", "b": "t2"})
        self.assertEqual(self.events, [])
        self.assertIs(self.set.getServiceNamed("a"), before)

    def test_changed_removed_and_added_by_name(self) -> None:
        self.reconfigure({"a": "t1", "b": "rotated", "c": "t3"})
        self.assertEqual(self.events, ["stop b", "start b rotated", "start c t3"])
        self.events.clear()
        self.reconfigure({"c": "t3"})
        self.assertEqual(sorted(self.events), ["stop a", "stop b"])
        self.assertEqual(sorted(s.name for s in self.set), ["c"])


class SpecServiceTests(SynchronousTestCase):
    def test_apply_only_on_change(self) -> None:
        applied: list[tuple[Any, Any]] = []

        class Limits(SpecService[AccountSpec]):
            def apply_spec(self, old: AccountSpec, new: AccountSpec) -> Deferred[None] | None:
                applied.append((old, new))
                return None

        service = Limits(AccountSpec("x"), lambda config: AccountSpec(config["token"]))
        self.assertIsNone(service.reconfig_service(Update({"token": "x"})))
        self.successResultOf(service.reconfig_service(Update({"token": "y"})))
        self.assertEqual(applied, [(AccountSpec("x"), AccountSpec("y"))])
