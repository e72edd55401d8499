"""The reload coordinator with a Clock: debounce, coalescing, bad files, the four modes."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.config import parse_config_text
from openclaw.gateway.reload import coordinator as c
from openclaw.gateway.reload.coordinator import ConfigInvalid, ReloadCoordinator
from openclaw.secrets import EMPTY_SNAPSHOT, SecretFailure, SecretResolutionError

PATH = "/nonexistent/openclaw.json"


def snapshot(mode: str = "hybrid", model: str = "a/one", port: int = 18789,
             debounce: int = 300, **extra: Any) -> Any:
    document = {"gateway": {"mode": "local", "port": port,
                            "reload": {"mode": mode, "debounceMs": debounce}},
                "agents": {"entries": {"main": {"model": model}}}, **extra}
    return parse_config_text(json.dumps(document), PATH, env={}, home="/nonexistent")


class FakeHooks:
    def __init__(self, active: Any) -> None:
        self.active = active
        self.file: Any = active  # what read_config returns (or an exception / a Deferred)
        self.reads = 0
        self.applied: list[tuple[Any, Any]] = []
        self.restarts: list[tuple[str, int]] = []
        self.secrets_error: Exception | None = None
        self.state_changes = 0

    def active_snapshot(self) -> Any:
        return self.active

    def read_config(self) -> Deferred[Any]:
        self.reads += 1
        value = self.file
        if isinstance(value, Deferred):
            return value
        if isinstance(value, Exception):
            return fail(value)
        return succeed(value)

    def prepare_secrets(self, snap: Any) -> Deferred[Any]:
        if self.secrets_error is not None:
            return fail(self.secrets_error)
        return succeed(EMPTY_SNAPSHOT)

    def apply_config(self, snap: Any, secrets: Any, plan: Any) -> Deferred[None]:
        self.applied.append((snap, plan))
        self.active = snap
        return succeed(None)

    def request_restart(self, reason: str, delay_ms: int) -> Any:
        self.restarts.append((reason, delay_ms))
        return {"ok": True}

    def reload_state_changed(self) -> None:
        self.state_changes += 1


class CoordinatorBase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.hooks = FakeHooks(snapshot())
        self.coordinator = ReloadCoordinator(self.hooks, clock=self.clock, path=PATH)

    def edit(self, new: Any) -> None:
        self.hooks.file = new
        self.coordinator.request()

    def settle(self, seconds: float = 1.0) -> None:
        for _ in range(int(seconds * 100)):
            self.clock.advance(0.01)


class DebounceTests(CoordinatorBase):
    def test_events_within_the_debounce_window_make_one_pass(self) -> None:
        self.hooks.file = snapshot(model="a/two")
        for _ in range(100):
            self.coordinator.request()
            self.clock.advance(0.01)  # 100 events over one second
        self.assertEqual(self.hooks.reads, 0)
        self.clock.advance(0.28)  # 0.29 s after the last event
        self.assertEqual(self.hooks.reads, 0)
        self.clock.advance(0.02)
        self.assertEqual(self.hooks.reads, 1)
        self.assertEqual(self.coordinator.reloads, 1)
        self.assertEqual(len(self.hooks.applied), 1)

    def test_debounce_comes_from_the_running_config(self) -> None:
        self.hooks.active = snapshot(debounce=50)
        self.edit(snapshot(model="a/two", debounce=50))
        self.clock.advance(0.051)
        self.assertEqual(self.hooks.reads, 1)

    def test_explicit_delay_overrides(self) -> None:
        self.hooks.file = snapshot(model="a/two")
        self.coordinator.request(delay_ms=0)
        self.clock.advance(0)
        self.assertEqual(self.hooks.reads, 1)

    def test_requests_during_a_pass_coalesce_into_one_more(self) -> None:
        pending: Deferred[Any] = Deferred()
        self.hooks.file = pending
        self.coordinator.request(delay_ms=0)
        self.clock.advance(0)
        self.assertEqual(self.hooks.reads, 1)
        for _ in range(5):
            self.coordinator.request(delay_ms=0)
            self.clock.advance(0)
        self.assertEqual(self.hooks.reads, 1)
        self.hooks.file = snapshot(model="a/three")
        pending.callback(snapshot(model="a/two"))
        self.assertEqual(self.hooks.reads, 2)
        self.assertEqual(self.coordinator.passes, 2)
        self.assertEqual(self.hooks.active.config.agents.entries["main"].model.primary,
                         "a/three")

    def test_stop_cancels_the_timer(self) -> None:
        self.edit(snapshot(model="a/two"))
        self.coordinator.stop()
        self.settle()
        self.assertEqual(self.hooks.reads, 0)


class BadFileTests(CoordinatorBase):
    def test_invalid_file_keeps_the_last_good_config(self) -> None:
        old = self.hooks.active
        self.edit(ConfigInvalid(f"{PATH}: gateway.bind: Invalid option", "abc"))
        self.settle()
        self.assertIs(self.hooks.active, old)
        self.assertEqual(self.coordinator.last_outcome, c.INVALID)
        error = self.coordinator.last_error
        self.assertEqual((error.kind, error.path), ("invalid-config", PATH))
        self.assertIn("gateway.bind", error.message)
        fixed = snapshot(model="a/fixed")
        self.edit(fixed)
        self.settle()
        self.assertIs(self.hooks.active, fixed)
        self.assertIsNone(self.coordinator.last_error)

    def test_invalid_warning_logged_once_per_content(self) -> None:
        events: list[dict[str, Any]] = []
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        for _ in range(3):
            self.edit(ConfigInvalid("same reason"))
            self.settle()
        warnings = [e for e in events if "invalid config" in e.get("log_format", "")]
        self.assertEqual(len(warnings), 1)

    def test_missing_file_is_retried_then_skipped(self) -> None:
        old = self.hooks.active
        self.edit(None)
        self.clock.advance(0.3)
        self.assertEqual(self.hooks.reads, 1)
        self.clock.advance(0.15)
        self.assertEqual(self.hooks.reads, 2)
        self.clock.advance(0.15)
        self.assertEqual(self.hooks.reads, 3)
        self.settle()
        self.assertEqual(self.hooks.reads, 3)
        self.assertIs(self.hooks.active, old)
        self.assertEqual(self.coordinator.last_outcome, c.MISSING)
        self.assertEqual(self.coordinator.last_error.kind, "missing-config")

    def test_same_hash_is_a_no_op(self) -> None:
        self.edit(self.hooks.active)
        self.settle()
        self.assertEqual(self.coordinator.last_outcome, c.UNCHANGED)
        self.assertEqual(self.hooks.applied, [])
        self.assertEqual(self.coordinator.reloads, 0)

    def test_unresolvable_secret_keeps_the_old_config(self) -> None:
        old = self.hooks.active
        self.hooks.secrets_error = SecretResolutionError(
            [SecretFailure("hooks.token", "env:default:X", "missing")])
        self.edit(snapshot(model="a/two"))
        self.settle()
        self.assertIs(self.hooks.active, old)
        self.assertEqual(self.coordinator.last_outcome, c.SECRETS_FAILED)
        self.assertEqual(self.coordinator.last_error.kind, "secrets")


class ModeTests(CoordinatorBase):
    def run_modes(self, mode: str, new: Any) -> None:
        self.hooks.active = snapshot(mode=mode)
        self.edit(new)
        self.settle()

    def test_hybrid_hot_change_is_applied(self) -> None:
        self.run_modes("hybrid", snapshot(mode="hybrid", model="a/two"))
        self.assertEqual(self.coordinator.last_outcome, c.APPLIED)
        (applied, plan), = self.hooks.applied
        self.assertEqual(plan.hot_reasons, ("agents.entries.main.model",))
        self.assertEqual(self.hooks.restarts, [])

    def test_hybrid_restart_change_restarts_without_applying(self) -> None:
        self.run_modes("hybrid", snapshot(mode="hybrid", port=19999))
        self.assertEqual(self.coordinator.last_outcome, c.RESTART)
        self.assertEqual(self.hooks.applied, [])
        self.assertEqual(self.hooks.restarts, [("config change (gateway.port)", 0)])

    def test_hot_mode_applies_hot_and_ignores_restart_changes(self) -> None:
        self.run_modes("hot", snapshot(mode="hot", port=19999, model="a/two"))
        self.assertEqual(self.coordinator.last_outcome, c.HOT_IGNORED_RESTART)
        self.assertEqual(self.hooks.restarts, [])
        self.assertEqual(len(self.hooks.applied), 1)
        self.assertEqual(self.coordinator.pending_restart_paths, ("gateway.port",))

    def test_restart_mode_restarts_on_a_hot_change(self) -> None:
        self.run_modes("restart", snapshot(mode="restart", model="a/two"))
        self.assertEqual(self.coordinator.last_outcome, c.RESTART)
        self.assertEqual(self.hooks.applied, [])
        self.assertEqual(len(self.hooks.restarts), 1)

    def test_restart_mode_swaps_none_kind_changes(self) -> None:
        self.run_modes("restart", snapshot(mode="restart", logging={"level": "debug"}))
        self.assertEqual(self.coordinator.last_outcome, c.APPLIED)
        self.assertEqual(self.hooks.restarts, [])

    def test_off_mode_applies_nothing(self) -> None:
        old = snapshot(mode="off")
        self.hooks.active = old
        self.edit(snapshot(mode="off", model="a/two", port=19999))
        self.settle()
        self.assertEqual(self.coordinator.last_outcome, c.DISABLED)
        self.assertIs(self.hooks.active, old)
        self.assertEqual((self.hooks.applied, self.hooks.restarts), ([], []))

    def test_leaving_off_mode_applies_accumulated_changes(self) -> None:
        self.hooks.active = snapshot(mode="off")
        self.edit(snapshot(mode="off", model="a/two"))
        self.settle()
        self.edit(snapshot(mode="hybrid", model="a/two"))
        self.settle()
        self.assertEqual(self.coordinator.last_outcome, c.APPLIED)
        (_, plan), = self.hooks.applied
        self.assertIn("agents.entries.main.model", plan.hot_reasons)
        self.assertIn("gateway.reload.mode", plan.noop_paths)

    def test_reload_settings_change_never_restarts(self) -> None:
        self.run_modes("hybrid", snapshot(mode="hot", debounce=10))
        self.assertEqual(self.coordinator.last_outcome, c.APPLIED)
        self.assertEqual(self.hooks.restarts, [])


class ExpectTests(CoordinatorBase):
    def test_rpc_write_waits_for_its_pass(self) -> None:
        new = snapshot(model="a/two")
        self.hooks.file = new
        outcome = self.coordinator.expect(new.hash, restart_delay_ms=2000)
        self.assertNoResult(outcome)
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(outcome), c.APPLIED)

    def test_rpc_restart_gets_its_delay(self) -> None:
        new = snapshot(port=19999)
        self.hooks.file = new
        outcome = self.coordinator.expect(new.hash, restart_delay_ms=2000)
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(outcome), c.RESTART)
        self.assertEqual(self.hooks.restarts, [("config change (gateway.port)", 2000)])

    def test_rpc_write_restarts_even_in_off_mode(self) -> None:
        self.hooks.active = snapshot(mode="off")
        new = snapshot(mode="off", model="a/two")
        self.hooks.file = new
        outcome = self.coordinator.expect(new.hash)
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(outcome), c.RESTART)

    def test_superseded_write(self) -> None:
        self.hooks.file = snapshot(model="a/other")
        outcome = self.coordinator.expect(snapshot(model="a/two").hash)
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(outcome), c.SUPERSEDED)

    def test_already_active(self) -> None:
        outcome = self.coordinator.expect(self.hooks.active.hash)
        self.assertEqual(self.successResultOf(outcome), c.UNCHANGED)

    def test_stop_releases_waiters(self) -> None:
        pending: Deferred[Any] = Deferred()
        self.hooks.file = pending
        outcome = self.coordinator.expect("deadbeef")
        self.clock.advance(0)
        self.coordinator.stop()
        self.assertEqual(self.successResultOf(outcome), c.STOPPED)
