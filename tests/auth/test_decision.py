"""The shared auth decision (WS and HTTP) and the failed-auth rate limiter."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from openclaw.auth.decision import (
    AuthRequest,
    AuthSettings,
    TrustedProxySettings,
    classify_ingress,
    decide_auth,
    safe_equal_secret,
)
from openclaw.auth.ratelimit import (
    SCOPE_SHARED_SECRET,
    AuthRateLimiter,
    RateLimitSettings,
)

LOCAL = "127.0.0.1"
REMOTE = "203.0.113.9"


def limiter(clock: Clock, **settings: int | bool) -> AuthRateLimiter:
    return AuthRateLimiter(clock, RateLimitSettings(**settings))  # type: ignore[arg-type]


class SafeEqualTests(SynchronousTestCase):
    def test_equal_and_not(self) -> None:
        self.assertTrue(safe_equal_secret("abc", "abc"))
        self.assertFalse(safe_equal_secret("abc", "abd"))
        self.assertFalse(safe_equal_secret("abc", "abcd"))
        self.assertFalse(safe_equal_secret("abc\0", "abc"))
        self.assertFalse(safe_equal_secret(None, "abc"))
        self.assertTrue(safe_equal_secret("", ""))


class TokenModeTests(SynchronousTestCase):
    settings = AuthSettings(mode="token", token="tok")

    def test_match(self) -> None:
        decision = decide_auth(self.settings, AuthRequest(LOCAL, token="tok"), None)
        self.assertTrue(decision.ok)
        self.assertEqual(decision.method, "token")

    def test_password_field_may_carry_the_token(self) -> None:
        decision = decide_auth(self.settings, AuthRequest(LOCAL, password="tok"), None)
        self.assertTrue(decision.ok)

    def test_missing_and_mismatch(self) -> None:
        missing = decide_auth(self.settings, AuthRequest(LOCAL), None)
        self.assertEqual((missing.ok, missing.reason), (False, "token_missing"))
        wrong = decide_auth(self.settings, AuthRequest(LOCAL, token="x"), None)
        self.assertEqual(wrong.reason, "token_mismatch")

    def test_not_configured(self) -> None:
        for token in (None, "", "  ", "undefined", "null"):
            decision = decide_auth(AuthSettings(mode="token", token=token),
                                   AuthRequest(LOCAL, token="x"), None)
            self.assertEqual(decision.reason, "token_missing_config")

    def test_redacted_sentinel_config(self) -> None:
        decision = decide_auth(AuthSettings(mode="token", token="__OPENCLAW_REDACTED__"),
                               AuthRequest(LOCAL, token="__OPENCLAW_REDACTED__"), None)
        self.assertEqual(decision.reason, "token_redacted_config")


class PasswordAndNoneModeTests(SynchronousTestCase):
    def test_password_mode(self) -> None:
        settings = AuthSettings(mode="password", password="pw")
        self.assertTrue(decide_auth(settings, AuthRequest(LOCAL, password="pw"), None).ok)
        self.assertTrue(decide_auth(settings, AuthRequest(LOCAL, token="pw"), None).ok)
        self.assertEqual(decide_auth(settings, AuthRequest(LOCAL), None).reason,
                         "password_missing")
        self.assertEqual(decide_auth(settings, AuthRequest(LOCAL, password="x"), None).reason,
                         "password_mismatch")
        self.assertEqual(
            decide_auth(AuthSettings(mode="password"), AuthRequest(LOCAL, password="x"),
                        None).reason,
            "password_missing_config")

    def test_none_mode(self) -> None:
        decision = decide_auth(AuthSettings(mode="none"), AuthRequest(REMOTE), None)
        self.assertEqual((decision.ok, decision.method), (True, "none"))


class TrustedProxyTests(SynchronousTestCase):
    proxy = TrustedProxySettings(user_header="X-Auth-User", required_headers=("x-proxy-ok",),
                                 allow_users=("alice",))
    settings = AuthSettings(mode="trusted-proxy", trusted_proxy=proxy,
                            trusted_proxies=("10.0.0.0/8",), password="pw")

    def request(self, remote: str = "10.1.2.3", **headers: str) -> AuthRequest:
        base = {"x-forwarded-for": "198.51.100.4", "x-proxy-ok": "1", "x-auth-user": "alice"}
        base.update(headers)
        return AuthRequest(remote, {k: v for k, v in base.items() if v})

    def test_authorized_user(self) -> None:
        decision = decide_auth(self.settings, self.request(), None)
        self.assertEqual((decision.ok, decision.method, decision.user),
                         (True, "trusted-proxy", "alice"))
        self.assertEqual(decision.subject, "198.51.100.4")

    def test_failures(self) -> None:
        cases = [
            (self.request(remote="192.0.2.1"), "proxy_attribution_required"),
            (AuthRequest("192.0.2.1", {"x-auth-user": "alice"}),
             "trusted_proxy_untrusted_source"),
            (self.request(**{"x-proxy-ok": ""}), "trusted_proxy_missing_header_x-proxy-ok"),
            (self.request(**{"x-auth-user": ""}), "trusted_proxy_user_missing"),
            (self.request(**{"x-auth-user": "mallory"}), "trusted_proxy_user_not_allowed"),
            (self.request(**{"x-forwarded-for": ""}), "proxy_attribution_required"),
        ]
        for request, reason in cases:
            self.assertEqual(decide_auth(self.settings, request, None).reason, reason, request)

    def test_local_interface_address_is_not_a_proxy(self) -> None:
        request = AuthRequest("10.1.2.3", {"x-forwarded-for": "198.51.100.4", "x-proxy-ok": "1",
                                           "x-auth-user": "alice"},
                              local_addresses=frozenset({"10.1.2.3"}))
        self.assertEqual(decide_auth(self.settings, request, None).reason,
                         "trusted_proxy_local_interface_source")

    def test_loopback_proxy_needs_allow_loopback(self) -> None:
        settings = AuthSettings(mode="trusted-proxy", trusted_proxies=("127.0.0.1",),
                                trusted_proxy=self.proxy)
        request = AuthRequest(LOCAL, {"x-forwarded-for": "198.51.100.4", "x-proxy-ok": "1",
                                      "x-auth-user": "alice"})
        self.assertEqual(decide_auth(settings, request, None).reason,
                         "trusted_proxy_loopback_source")
        allowed = AuthSettings(mode="trusted-proxy", trusted_proxies=("127.0.0.1",),
                               trusted_proxy=TrustedProxySettings("x-auth-user",
                                                                  allow_loopback=True))
        self.assertTrue(decide_auth(allowed, request, None).ok)

    def test_local_password_fallback(self) -> None:
        decision = decide_auth(self.settings, AuthRequest(LOCAL, password="pw"), None)
        self.assertEqual((decision.ok, decision.method), (True, "password"))

    def test_misconfiguration(self) -> None:
        self.assertEqual(decide_auth(AuthSettings(mode="trusted-proxy"), AuthRequest(LOCAL),
                                     None).reason, "trusted_proxy_config_missing")
        self.assertEqual(
            decide_auth(AuthSettings(mode="trusted-proxy", trusted_proxy=self.proxy),
                        AuthRequest(LOCAL), None).reason,
            "trusted_proxy_no_proxies_configured")


class IngressTests(SynchronousTestCase):
    def test_classification(self) -> None:
        self.assertEqual(classify_ingress(LOCAL, {}, ()).kind, "direct-local")
        self.assertEqual(classify_ingress("::1", {}, ()).kind, "direct-local")
        self.assertEqual(classify_ingress("::ffff:127.0.0.1", {}, ()).kind, "direct-local")
        self.assertEqual(classify_ingress(LOCAL, {"x-forwarded-for": "1.2.3.4"}, ()).kind,
                         "unattributable-proxy")
        self.assertEqual(classify_ingress(REMOTE, {}, ()).kind, "direct-remote")
        proxied = classify_ingress("10.0.0.2", {"x-forwarded-for": "198.51.100.1, 10.0.0.9"},
                                   ("10.0.0.0/8",))
        self.assertEqual((proxied.kind, proxied.client_ip), ("trusted-proxy", "198.51.100.1"))
        real_ip = classify_ingress("10.0.0.2", {"x-real-ip": "198.51.100.7"}, ("10.0.0.0/8",),
                                   allow_real_ip_fallback=True)
        self.assertEqual(real_ip.client_ip, "198.51.100.7")


class RateLimitTests(SynchronousTestCase):
    settings = AuthSettings(mode="token", token="tok")

    def test_remote_lockout_and_expiry(self) -> None:
        clock = Clock()
        rl = limiter(clock, max_attempts=3, window_ms=60_000, lockout_ms=300_000)
        for _ in range(3):
            decision = decide_auth(self.settings, AuthRequest(REMOTE, token="bad"), rl)
            self.assertEqual(decision.reason, "token_mismatch")
            self.assertEqual(decision.delay_seconds, 0)
        limited = decide_auth(self.settings, AuthRequest(REMOTE, token="tok"), rl)
        self.assertEqual((limited.reason, limited.rate_limited, limited.retry_after_ms),
                         ("rate_limited", True, 300_000))
        clock.advance(100)
        self.assertEqual(decide_auth(self.settings, AuthRequest(REMOTE, token="tok"),
                                     rl).retry_after_ms, 200_000)
        clock.advance(200)
        self.assertTrue(decide_auth(self.settings, AuthRequest(REMOTE, token="tok"), rl).ok)
        self.assertEqual(len(rl), 0)

    def test_window_slides(self) -> None:
        clock = Clock()
        rl = limiter(clock, max_attempts=2, window_ms=1_000)
        rl.record_failure(REMOTE, SCOPE_SHARED_SECRET)
        clock.advance(2)
        rl.record_failure(REMOTE, SCOPE_SHARED_SECRET)
        self.assertTrue(rl.check(REMOTE, SCOPE_SHARED_SECRET).allowed)
        rl.record_failure(REMOTE, SCOPE_SHARED_SECRET)
        self.assertFalse(rl.check(REMOTE, SCOPE_SHARED_SECRET).allowed)
        self.assertTrue(rl.check("198.51.100.1", SCOPE_SHARED_SECRET).allowed)
        self.assertTrue(rl.check(REMOTE, "device-token").allowed)

    def test_loopback_exempt_but_delayed(self) -> None:
        clock = Clock()
        rl = limiter(clock, max_attempts=2)
        delays = [decide_auth(self.settings, AuthRequest(LOCAL, token="bad"), rl).delay_seconds
                  for _ in range(8)]
        self.assertEqual(delays, [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0])
        self.assertTrue(decide_auth(self.settings, AuthRequest(LOCAL, token="tok"), rl).ok)

    def test_loopback_not_exempt_when_configured(self) -> None:
        clock = Clock()
        rl = limiter(clock, max_attempts=1, exempt_loopback=False)
        decide_auth(self.settings, AuthRequest(LOCAL, token="bad"), rl)
        self.assertTrue(decide_auth(self.settings, AuthRequest(LOCAL, token="tok"), rl)
                        .rate_limited)

    def test_deferred_failure_is_not_recorded(self) -> None:
        clock = Clock()
        rl = limiter(clock, max_attempts=1)
        decide_auth(self.settings, AuthRequest(REMOTE, token="bad"), rl, defer_failure=True)
        self.assertTrue(rl.check(REMOTE, SCOPE_SHARED_SECRET).allowed)

    def test_success_resets(self) -> None:
        clock = Clock()
        rl = limiter(clock, max_attempts=2)
        decide_auth(self.settings, AuthRequest(REMOTE, token="bad"), rl)
        decide_auth(self.settings, AuthRequest(REMOTE, token="tok"), rl)
        decide_auth(self.settings, AuthRequest(REMOTE, token="bad"), rl)
        self.assertTrue(rl.check(REMOTE, SCOPE_SHARED_SECRET).allowed)

    def test_entry_cap(self) -> None:
        rl = AuthRateLimiter(Clock(), RateLimitSettings(max_attempts=1), max_entries=2)
        for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
            rl.record_failure(address, SCOPE_SHARED_SECRET)
        self.assertEqual(len(rl), 2)
