"""Pairing policy helpers."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.devices.pairing import (
    metadata_mismatch,
    pairing_failure,
    should_allow_silent_local_pairing,
)


class PairingPolicyTests(SynchronousTestCase):
    def silent(self, **kw: object) -> bool:
        options: dict[str, object] = dict(
            locality="direct_local", has_browser_origin=False, is_control_ui=False,
            is_webchat=False, is_native_app_ui=False, auth_method="token", reason="not-paired",
            auto_approve_local=None)
        options.update(kw)
        return should_allow_silent_local_pairing(**options)  # type: ignore[arg-type]

    def test_silent_rules(self) -> None:
        self.assertTrue(self.silent())
        self.assertFalse(self.silent(locality="remote"))
        self.assertFalse(self.silent(has_browser_origin=True))
        self.assertTrue(self.silent(has_browser_origin=True, is_control_ui=True))
        self.assertFalse(self.silent(auto_approve_local=False))
        self.assertTrue(self.silent(reason="scope-upgrade"))
        self.assertFalse(self.silent(reason="scope-upgrade", auth_method="device-token"))
        self.assertFalse(self.silent(reason="metadata-upgrade"))
        self.assertTrue(self.silent(reason="metadata-upgrade", is_native_app_ui=True))
        self.assertTrue(self.silent(reason="metadata-upgrade", locality="cli_container_local"))

    def test_metadata_pinning(self) -> None:
        paired = {"platform": "linux", "deviceFamily": "Linux"}
        self.assertFalse(metadata_mismatch({"platform": " LINUX ", "deviceFamily": "linux"},
                                           paired))
        self.assertTrue(metadata_mismatch({"platform": "darwin", "deviceFamily": "Linux"},
                                          paired))
        self.assertFalse(metadata_mismatch({"platform": "darwin"}, {}))

    def test_failure_shape(self) -> None:
        failure = pairing_failure(reason="scope-upgrade", request_id="req-1", device_id="d",
                                  role="operator", scopes=["operator.admin"],
                                  approved_roles=["operator"], approved_scopes=["operator.read"])
        self.assertEqual(failure.message,
                         "pairing required: device is asking for more scopes than currently "
                         "approved")
        self.assertEqual(failure.close_reason, failure.message + " (requestId: req-1)")
        self.assertEqual(failure.details["code"], "PAIRING_REQUIRED")
        self.assertEqual(failure.details["approvedScopes"], ["operator.read"])
        bad_id = pairing_failure(reason="not-paired", request_id="bad id!", device_id="d",
                                 role="node", scopes=[], wait_for_approval=True)
        self.assertNotIn("requestId", bad_id.details)
        self.assertEqual(bad_id.details["recommendedNextStep"], "wait_then_retry")
        self.assertNotIn("requestedScopes", bad_id.details)
