"""The Control UI stage: SPA serving, caching, security headers, bootstrap JSON, avatars.

Reactor-free: the stage behind the real root resource, driven by ``StubTreq``; file reads run
inline; real config snapshots; a UI build written to a temporary folder.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

from openclaw.agents.config import read_agents
from openclaw.auth.decision import AuthSettings
from openclaw.blocking import run_inline
from openclaw.gateway.http.auth import AuthSource, HttpAuthenticator
from openclaw.gateway.http.control_ui import (
    ControlUiStage,
    accepted_encodings,
    accepts_html,
    inline_script_hashes,
    normalize_base_path,
)
from openclaw.gateway.site import GatewayRootResource
from tests.support import config_snapshot

TOKEN = "ui-token-0123456789"
DEVICE_TOKEN = "device-token-abcdef"
INLINE = "globalThis.boot = 1;"
INDEX = f"""<!doctype html>
<html data-openclaw-control-ui-build-id="stock-build" lang="en"><head>
<link rel="icon" href="./favicon.svg" />
<script>{INLINE}</script>
<script type="module" src="./assets/app-AbCdEf12.js"></script>
</head><body></body></html>
"""
APP = b"console.log('app');" * 50
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


class _Websocket(Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        return b"ws"


def write_tree(root: str, files: Mapping[str, bytes | str]) -> str:
    for relative, content in files.items():
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)
    return root


def stock_build() -> str:
    return write_tree(tempfile.mkdtemp(prefix="oc-ui-"), {
        "index.html": INDEX, "assets/app-AbCdEf12.js": APP,
        "assets/app-AbCdEf12.js.br": b"brotli-bytes",
        "assets/app-AbCdEf12.js.gz": gzip.compress(APP), "favicon.svg": "<svg/>"})


class Stack:
    def __init__(self, config: Mapping[str, Any], *, bundled: str | None = None,
                 device_tokens: Mapping[str, Sequence[str]] | None = None,
                 workspace: str | None = None) -> None:
        self.snapshot = config_snapshot(dict(config))
        settings = AuthSettings(mode="token", token=TOKEN)
        authenticator = HttpAuthenticator(AuthSource(settings=lambda: settings,
                                                     limiter=lambda: None), Clock())
        state = tempfile.mkdtemp(prefix="oc-ui-state-")
        view = read_agents(self.snapshot, default_workspace=workspace or state, state_dir=state,
                           home=state)
        tokens = dict(device_tokens or {})
        self.stage = ControlUiStage(
            get_config=lambda: self.snapshot, authenticator=authenticator, clock=Clock(),
            run_blocking=run_inline, version="2026.9.6", build_id=lambda: "our-build",
            agents_view=lambda: view, device_token_scopes=tokens.get,
            bundled_root=bundled if bundled is not None else tempfile.mkdtemp())
        self.http = StubTreq(GatewayRootResource(_Websocket(), [self.stage]))

    def get(self, path: str, headers: Mapping[str, str] | None = None, method: str = "GET"
            ) -> tuple[Any, bytes]:
        response = self.http.request(method, f"http://127.0.0.1:18789{path}",
                                     headers={k: [v] for k, v in (headers or {}).items()},
                                     allow_redirects=False)
        self.http.flush()
        done: list[Any] = []
        response.addCallback(done.append)
        assert done, f"no answer for {path}"
        body: list[bytes] = []
        self.http.content(done[0]).addCallback(body.append)
        return done[0], body[0]


def header(response: Any, name: str) -> str | None:
    values = response.headers.getRawHeaders(name)
    return values[0] if values else None


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class HelpersTests(SynchronousTestCase):
    def test_base_path_and_negotiation(self) -> None:
        self.assertEqual([normalize_base_path(v) for v in ("", "/", " /oc/ ", "oc")],
                         ["", "", "/oc", "/oc"])
        self.assertTrue(accepts_html(None))
        self.assertTrue(accepts_html("text/html,application/xhtml+xml;q=0.9"))
        self.assertTrue(accepts_html("*/*"))
        self.assertFalse(accepts_html("application/json"))
        self.assertFalse(accepts_html("text/html;q=0"))
        self.assertEqual(accepted_encodings("gzip, br;q=0.9, deflate"), ["gzip", "br"])
        self.assertEqual(accepted_encodings("br;q=0, gzip"), ["gzip"])

    def test_inline_script_hashes(self) -> None:
        digest = base64.b64encode(hashlib.sha256(INLINE.encode()).digest()).decode()
        self.assertEqual(inline_script_hashes(INDEX), [f"sha256-{digest}"])


class ServingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.root = stock_build()
        self.stack = Stack({"gateway": {"controlUi": {"root": self.root}}})

    def test_index_document(self) -> None:
        response, body = self.stack.get("/")
        self.assertEqual(response.code, 200)
        text = body.decode()
        self.assertIn('<html data-openclaw-control-ui-base-path="" '
                      'data-openclaw-terminal-enabled="false" lang="en">', text)
        self.assertNotIn("stock-build", text)   # a configured build is not ours to version
        self.assertIn('src="/assets/app-AbCdEf12.js"', text)
        self.assertIn('href="/favicon.svg"', text)
        self.assertEqual(header(response, "content-type"), "text/html; charset=utf-8")
        self.assertEqual(header(response, "cache-control"), "no-cache")
        self.assertEqual(header(response, "x-frame-options"), "DENY")
        self.assertEqual(header(response, "referrer-policy"), "no-referrer")
        self.assertEqual(header(response, "x-content-type-options"), "nosniff")
        csp = header(response, "content-security-policy") or ""
        digest = inline_script_hashes(INDEX)[0]
        self.assertIn(f"script-src 'self' '{digest}';", csp)
        self.assertNotIn("unsafe-inline' https", csp)
        self.assertNotIn("script-src 'self' 'unsafe-inline'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertIn("object-src 'none'", csp)

    def test_spa_fallback_and_refusals(self) -> None:
        for path in ("/chat/main", "/settings/devices", "/sessions?x=1"):
            response, body = self.stack.get(path)
            self.assertEqual((response.code, b"<!doctype html>" in body), (200, True), path)
        for path in ("/nope.png", "/assets/missing-AbCdEf12.js", "/%2e%2e/%2e%2e/etc/passwd",
                     "/assets/app-AbCdEf12.js.br", "/ui", "/ui/x", "/__init__.py"):
            response, body = self.stack.get(path)
            self.assertEqual(response.code, 404, path)
        json_only, _ = self.stack.get("/foo", {"Accept": "application/json"})
        self.assertEqual(json_only.code, 404)
        posted, _ = self.stack.get("/", method="POST")
        self.assertEqual(posted.code, 404)
        api, _ = self.stack.get("/api/users/me/settings")
        self.assertEqual(api.code, 404)
        self.assertIsNone(header(api, "x-frame-options"))   # not claimed by the UI stage

    def test_hashed_assets_are_immutable_and_precompressed(self) -> None:
        response, body = self.stack.get("/assets/app-AbCdEf12.js")
        self.assertEqual(body, APP)
        self.assertEqual(header(response, "cache-control"), "public, max-age=31536000, immutable")
        self.assertEqual(header(response, "content-type"), "application/javascript; charset=utf-8")
        self.assertEqual(header(response, "vary"), "Accept-Encoding")
        brotli, body = self.stack.get("/assets/app-AbCdEf12.js", {"Accept-Encoding": "br"})
        self.assertEqual((header(brotli, "content-encoding"), body), ("br", b"brotli-bytes"))
        # (treq asks for gzip itself and decodes it: the body arrives as the file)
        gzipped, body = self.stack.get("/assets/app-AbCdEf12.js", {"Accept-Encoding": "gzip"})
        self.assertEqual((gzipped.code, body), (200, APP))
        # deep links load assets relative to themselves
        nested, body = self.stack.get("/chat/assets/app-AbCdEf12.js")
        self.assertEqual((nested.code, body), (200, APP))

    def test_public_files_revalidate(self) -> None:
        response, body = self.stack.get("/favicon.svg")
        self.assertEqual((response.code, body), (200, b"<svg/>"))
        self.assertEqual(header(response, "cache-control"), "no-cache")
        modified = header(response, "last-modified")
        assert modified is not None
        cached, body = self.stack.get("/favicon.svg", {"If-Modified-Since": modified})
        self.assertEqual((cached.code, body), (304, b""))
        alias, body = self.stack.get("/__openclaw__/favicon.svg")
        self.assertEqual((alias.code, body), (200, b"<svg/>"))

    def test_head(self) -> None:
        response, body = self.stack.get("/", method="HEAD")
        self.assertEqual((response.code, body), (200, b""))

    def test_base_path(self) -> None:
        stack = Stack({"gateway": {"controlUi": {"root": self.root, "basePath": "/oc/"}}})
        moved, _ = stack.get("/oc?x=1")
        self.assertEqual((moved.code, header(moved, "location")), (302, "/oc/?x=1"))
        response, body = stack.get("/oc/chat")
        self.assertIn(b'data-openclaw-control-ui-base-path="/oc"', body)
        self.assertIn(b'src="/oc/assets/app-AbCdEf12.js"', body)
        outside, _ = stack.get("/chat")
        self.assertEqual(outside.code, 404)
        asset, body = stack.get("/oc/assets/app-AbCdEf12.js")
        self.assertEqual(body, APP)

    def test_disabled_and_missing_builds(self) -> None:
        off = Stack({"gateway": {"controlUi": {"enabled": False, "root": self.root}}})
        self.assertEqual(off.get("/")[0].code, 404)
        missing = Stack({"gateway": {"controlUi": {"root": "/nonexistent/ui"}}})
        response, body = missing.get("/")
        self.assertEqual(response.code, 503)
        self.assertIn(b"Control UI assets not found at /nonexistent/ui", body)
        placeholder = Stack({}, bundled=tempfile.mkdtemp())
        response, body = placeholder.get("/")
        self.assertEqual(response.code, 200)
        self.assertIn(b"no Control UI build is installed", body)
        self.assertNotIn(b"<script", body)

    def test_bundled_build_carries_our_build_id(self) -> None:
        stack = Stack({}, bundled=stock_build())
        _, body = stack.get("/")
        self.assertIn(b'data-openclaw-control-ui-build-id="our-build"', body)
        self.assertNotIn(b"stock-build", body)


class BootstrapTests(SynchronousTestCase):
    def test_needs_auth(self) -> None:
        stack = Stack({})
        response, body = stack.get("/control-ui-config.json")
        self.assertEqual(response.code, 401)
        self.assertEqual(json.loads(body),
                         {"error": {"message": "Unauthorized", "type": "unauthorized"}})
        wrong, _ = stack.get("/control-ui-config.json", auth("wrong"))
        self.assertEqual(wrong.code, 401)

    def test_payload_for_shared_secret_and_device_token(self) -> None:
        stack = Stack({}, device_tokens={DEVICE_TOKEN: ["operator.read"], "weak": []})
        for headers in (auth(), auth(DEVICE_TOKEN)):
            response, body = stack.get("/control-ui-config.json", headers)
            self.assertEqual(response.code, 200)
            self.assertEqual(header(response, "cache-control"), "no-cache")
            self.assertEqual(json.loads(body), {
                "basePath": "", "assistantName": "Assistant", "assistantAvatar": "A",
                "assistantAvatarSource": None, "assistantAvatarStatus": None,
                "assistantAvatarReason": None, "assistantAgentId": "main",
                "serverVersion": "2026.9.6", "serverBuildId": "our-build",
                "embedSandbox": "scripts", "allowExternalEmbedUrls": False,
                "automaticallyFetchFavicons": True, "communityInvite": True,
                "terminalEnabled": False, "cliAgentsEnabled": False,
                "pluginAssetsRequireAuth": True, "pluginFrameGrants": []})
        weak, body = stack.get("/control-ui-config.json", auth("weak"))
        self.assertEqual(weak.code, 403)
        self.assertEqual(json.loads(body)["error"]["message"], "missing scope: operator.read")

    def test_aliases_config_and_identity(self) -> None:
        stack = Stack({"gateway": {"controlUi": {
            "root": "/somewhere", "basePath": "/oc", "embedSandbox": "strict",
            "communityInvite": False, "environment": {"label": "prod", "color": "red"}}},
            "agents": {"entries": {"main": {"identity": {"name": "Probe Bot",
                                                         "emoji": "🦞"}}}}})
        response, body = stack.get("/oc/__openclaw/control-ui-config.json", auth())
        payload = json.loads(body)
        self.assertNotIn("serverBuildId", payload)   # assets come from gateway.controlUi.root
        self.assertEqual((payload["basePath"], payload["assistantName"],
                          payload["assistantAvatar"]), ("/oc", "Probe Bot", "🦞"))
        self.assertEqual((payload["embedSandbox"], payload["communityInvite"],
                          payload["environment"]),
                         ("strict", False, {"label": "prod", "color": "red"}))
        root_alias, _ = Stack({}).get("/__openclaw__/control-ui-config.json", auth())
        self.assertEqual(root_alias.code, 200)


class AvatarTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.workspace = write_tree(tempfile.mkdtemp(prefix="oc-ws-"), {"me.png": PNG})
        self.stack = Stack({"agents": {"entries": {
            "main": {"workspace": self.workspace, "identity": {"avatar": "me.png"},
                     "default": True},
            "other": {"workspace": self.workspace, "identity": {"avatar": "../escape.png"}}}}})
        self.revision = hashlib.sha256(PNG).hexdigest()[:16]

    def test_meta(self) -> None:
        response, body = self.stack.get("/avatar/main?meta=1", auth())
        self.assertEqual(json.loads(body), {
            "avatarUrl": f"/avatar/main?v={self.revision}", "avatarSource": "me.png",
            "avatarStatus": "local", "avatarReason": None})
        for agent in ("nobody", "other"):
            _, body = self.stack.get(f"/avatar/{agent}?meta=1", auth())
            self.assertEqual(json.loads(body), {"avatarUrl": None, "avatarSource": None,
                                                "avatarStatus": None, "avatarReason": None})
        config, body = self.stack.get("/control-ui-config.json", auth())
        payload = json.loads(body)
        self.assertEqual((payload["assistantAvatar"], payload["assistantAvatarStatus"]),
                         (f"/avatar/main?v={self.revision}", "local"))

    def test_image(self) -> None:
        response, body = self.stack.get(f"/avatar/main?v={self.revision}", auth())
        self.assertEqual((response.code, body), (200, PNG))
        self.assertEqual(header(response, "content-type"), "image/png")
        self.assertEqual(header(response, "cache-control"),
                         "private, max-age=31536000, immutable")
        self.assertEqual(header(response, "content-security-policy"),
                         "default-src 'none'; base-uri 'none'; object-src 'none'; "
                         "frame-ancestors 'none'; sandbox")
        self.assertEqual(header(response, "content-disposition"), 'attachment; filename="avatar"')
        stale, _ = self.stack.get("/avatar/main", auth())
        self.assertEqual(header(stale, "cache-control"), "no-cache")
        for path in ("/avatar/nobody", "/avatar/other", "/avatar/..%2Fx"):
            self.assertEqual(self.stack.get(path, auth())[0].code, 404, path)
        self.assertEqual(self.stack.get("/avatar/main")[0].code, 401)

    def test_user_avatars(self) -> None:
        self.assertEqual(self.stack.get("/api/users/gateway-owner/avatar")[0].code, 401)
        response, body = self.stack.get("/api/users/gateway-owner/avatar?v=1", auth())
        self.assertEqual((response.code, json.loads(body)),
                         (404, {"ok": False, "error": {"type": "not_found"}}))
        self.assertEqual(header(response, "cache-control"), "no-store")
