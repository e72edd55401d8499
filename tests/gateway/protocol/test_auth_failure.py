"""How the handshake words an auth failure (detail codes, messages, next steps)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from openclaw.gateway.protocol.auth_failure import (
    auth_detail_code,
    format_auth_failure_message,
    recommended_next_step,
)


class MessageTests(SynchronousTestCase):
    def message(self, reason: str | None, **kw: object) -> str:
        options: dict[str, object] = dict(mode="token", auth_provided="token", reason=reason,
                                          client_mode="cli", client_is_operator_ui=False,
                                          client_is_webchat=False, is_local_client=True)
        options.update(kw)
        return format_auth_failure_message(**options)  # type: ignore[arg-type]

    def test_cli_hints(self) -> None:
        self.assertEqual(self.message("token_mismatch"),
                         "unauthorized: gateway token mismatch (use this gateway's "
                         "gateway.auth.token or pair the device)")
        self.assertEqual(self.message("token_mismatch", is_local_client=False),
                         "unauthorized: gateway token mismatch (set gateway.remote.token to "
                         "match gateway.auth.token)")

    def test_ui_and_other_hints(self) -> None:
        self.assertEqual(self.message("token_missing", client_mode="webchat",
                                      client_is_webchat=True),
                         "unauthorized: gateway token missing (paste in Control UI settings or "
                         "openclaw doctor --generate-gateway-token; restart)")
        self.assertEqual(self.message("token_mismatch", client_mode="backend"),
                         "unauthorized: gateway token mismatch (provide gateway auth token)")
        self.assertEqual(self.message("password_mismatch", client_mode="ui",
                                      client_is_operator_ui=True),
                         "unauthorized: gateway password mismatch (enter the password in "
                         "Control UI settings)")

    def test_fixed_messages(self) -> None:
        self.assertEqual(self.message("rate_limited"),
                         "unauthorized: too many failed authentication attempts (retry later)")
        self.assertEqual(self.message("token_missing_config"),
                         "unauthorized: gateway token not configured on gateway (set "
                         "gateway.auth.token)")
        self.assertEqual(self.message("device_token_mismatch"),
                         "unauthorized: device token mismatch (rotate/reissue device token)")
        self.assertEqual(self.message(None, auth_provided="none"),
                         "unauthorized: gateway token missing (use this gateway's "
                         "gateway.auth.token or pair the device)")
        self.assertEqual(self.message("trusted_proxy_user_missing", mode="trusted-proxy"),
                         "unauthorized")

    def test_next_steps(self) -> None:
        self.assertEqual(recommended_next_step("token_mismatch", False), "update_auth_credentials")
        self.assertEqual(recommended_next_step("token_mismatch", True), "retry_with_device_token")
        self.assertEqual(recommended_next_step("token_missing", False),
                         "update_auth_configuration")
        self.assertEqual(recommended_next_step("rate_limited", False), "wait_then_retry")
        self.assertEqual(recommended_next_step("other", False), "review_auth_configuration")
        self.assertEqual(auth_detail_code(None), "AUTH_REQUIRED")
        self.assertEqual(auth_detail_code("weird"), "AUTH_UNAUTHORIZED")


class DetailCodeTests(SynchronousTestCase):
    def test_reasons_map_to_wire_codes(self) -> None:
        for reason, code in (("token_missing", "AUTH_TOKEN_MISSING"),
                             ("token_mismatch", "AUTH_TOKEN_MISMATCH"),
                             ("token_missing_config", "AUTH_TOKEN_NOT_CONFIGURED"),
                             ("rate_limited", "AUTH_RATE_LIMITED"),
                             ("trusted_proxy_missing_header_x",
                              "AUTH_IDENTITY_HEADER_REQUIRED")):
            self.assertEqual(auth_detail_code(reason), code, reason)
