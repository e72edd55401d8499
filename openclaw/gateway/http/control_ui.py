"""The Control UI stage: the browser app, its bootstrap JSON and the agent avatars.

The last stage of the port (``spec/http.md`` §10, upstream ``control-ui.ts``):

* ``gateway.controlUi.enabled`` (default on) switches it; ``basePath`` mounts it under a
  prefix (``/oc`` -> ``302 /oc/``; without one the SPA is the catch-all except ``/ui``,
  ``/api``, ``/plugins``, ``/v1``, ``/j``); ``root`` serves another build (e.g. the stock UI
  of the npm package), else the assets bundled in ``openclaw/control_ui/`` (a placeholder page
  while that folder holds no ``index.html``).
* Static files: GET/HEAD only; hashed ``assets/*`` names are cached for a year
  (``immutable``), everything else ``no-cache`` with ``Last-Modified``; precompressed
  ``.br``/``.gz`` siblings are served by ``Accept-Encoding``; a missing path without a static
  extension gets ``index.html`` (SPA fallback, for HTML requests), one with an extension is a
  404; nothing outside the root is ever served.
* ``index.html`` is rewritten as upstream does: absolute asset hrefs under the base path,
  ``<html data-openclaw-control-ui-base-path=... data-openclaw-terminal-enabled="false">``
  (plus the environment label and, for the bundled build, its build id), never cached.
* Headers on every UI answer: ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``,
  ``X-Content-Type-Options: nosniff``, a ``Permissions-Policy`` and a Content Security Policy
  whose ``script-src`` is ``'self'`` plus the SHA-256 of each inline ``<script>`` of the
  served document (so no inline script runs unless it is exactly the shipped one).
* ``/control-ui-config.json`` (aliases ``/__openclaw/...``, and ``/__openclaw__/...`` without a
  base path) and ``/avatar/<agentId>[?meta=1]``: authenticated like the HTTP API (Bearer shared
  secret, or the operator **device token** ``hello-ok`` issued to a paired browser), answers as
  upstream; so is ``/api/users/<profile>/avatar`` (no user pictures here: a JSON ``404``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import os
import re
import stat
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.web.http import CACHED, Request
from twisted.web.server import NOT_DONE_YET

from openclaw.agents.identity import (
    AssistantIdentity,
    assistant_identity,
    avatar_revision,
    read_avatar,
)
from openclaw.auth.scopes import READ, scope_satisfied
from openclaw.config.loader import ConfigSnapshot
from openclaw.gateway.http.auth import HttpAuthenticator, shared_secret_scopes
from openclaw.gateway.http.common import (
    Exchange,
    bearer_token,
    header,
    missing_scope_body,
    write_json,
    write_text,
)

if TYPE_CHECKING:
    from openclaw.agents.config import AgentsView

BUNDLED_ROOT: Final = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "control_ui")

CONFIG_JSON: Final = "/control-ui-config.json"
IMMUTABLE: Final = b"public, max-age=31536000, immutable"
NO_CACHE: Final = b"no-cache"
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
}
COMPRESSIBLE: Final = frozenset({".css", ".html", ".js", ".mjs", ".json", ".svg", ".txt",
                                 ".wasm", ".webmanifest", ".map"})
# Never served from any root (the bundled folder is a Python package).
HIDDEN_EXTENSIONS: Final = frozenset({".py", ".pyc", ".pyo", ".br", ".gz"})
# Vite/rollup content hashes: ``name-<8+ base64url chars>.ext``.
# content-hashed assets: a hashed file name (the stock UI: `assets/index-Bx3f9k2a.js`) or a
# hashed directory (ours: `assets/18bb262f00d7/app.js`)
HASHED_NAME: Final = re.compile(
    r"(?:[-.][A-Za-z0-9_-]{8,}\.[a-z0-9]+$)|(?:^assets/[0-9a-f]{8,}/)")
AGENT_SEGMENT: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)
USER_AVATAR: Final = re.compile(r"^/api/users/[^/]+/avatar$")
NOT_CLAIMED_PREFIXES: Final = ("/api", "/plugins", "/v1", "/j")
CACHE_MAX_BYTES: Final = 48 * 1024 * 1024
CACHE_MAX_FILE_BYTES: Final = 8 * 1024 * 1024

PERMISSIONS_POLICY: Final = (b"camera=(self), microphone=(self), geolocation=(), "
                             b"clipboard-write=(self)")
IMAGE_CSP: Final = (b"default-src 'none'; base-uri 'none'; object-src 'none'; "
                    b"frame-ancestors 'none'; sandbox")
INLINE_SCRIPT: Final = re.compile(r"<script(\s[^>]*)?>(.*?)</script>", re.IGNORECASE | re.DOTALL)
SCRIPT_SRC_ATTRIBUTE: Final = re.compile(r"\ssrc\s*=", re.IGNORECASE)
HTML_TAG: Final = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
BUILD_ID_ATTRIBUTE: Final = re.compile(r'\sdata-openclaw-control-ui-build-id="[^"]*"')
RELATIVE_REF: Final = re.compile(r'\b(src|href)="\./')

PLACEHOLDER_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OpenClaw Control</title></head>
<body><main>
<h1>OpenClaw gateway</h1>
<p>This gateway is running, but no Control UI build is installed with it.</p>
<p>Point <code>gateway.controlUi.root</code> at a built Control UI (for example the
<code>dist/control-ui</code> folder of the <code>openclaw</code> npm package), or install a
package that bundles one in <code>openclaw/control_ui/</code>.</p>
<p>The WebSocket API and the HTTP endpoints of this port work without it.</p>
</main></body></html>
"""


def normalize_base_path(value: str | None) -> str:
    """``/oc/`` -> ``/oc``; ``/`` and blanks -> ``""`` (upstream's normalisation)."""
    text = (value or "").strip()
    if not text or text == "/":
        return ""
    if not text.startswith("/"):
        text = "/" + text
    return text[:-1] if text.endswith("/") else text


def inline_script_hashes(document: str) -> list[str]:
    """``sha256-<base64>`` of every inline ``<script>`` (one without ``src``) with content."""
    hashes = []
    for match in INLINE_SCRIPT.finditer(document):
        attributes, content = match.group(1) or "", match.group(2)
        if SCRIPT_SRC_ATTRIBUTE.search(attributes) or not content:
            continue
        digest = hashlib.sha256(content.encode("utf-8")).digest()
        hashes.append("sha256-" + base64.b64encode(digest).decode("ascii"))
    return hashes


def content_security_policy(script_hashes: Sequence[str] = ()) -> bytes:
    """The Control UI's CSP: no inline script unless its hash is listed, no plugins, no
    framing, connections to this origin and WebSockets only."""
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    return "; ".join([
        "default-src 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "frame-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob: https:",
        "media-src 'self' data: blob:",
        "font-src 'self' data:",
        "worker-src 'self'",
        "manifest-src 'self'",
        "connect-src 'self' ws: wss: data:",
    ]).encode("ascii")


BASE_CSP: Final = content_security_policy()


def apply_ui_headers(request: Request, csp: bytes = BASE_CSP) -> None:
    headers = request.responseHeaders
    headers.setRawHeaders(b"x-frame-options", [b"DENY"])
    headers.setRawHeaders(b"content-security-policy", [csp])
    headers.setRawHeaders(b"x-content-type-options", [b"nosniff"])
    headers.setRawHeaders(b"referrer-policy", [b"no-referrer"])
    headers.setRawHeaders(b"permissions-policy", [PERMISSIONS_POLICY])


def accepts_html(accept: str | None) -> bool:
    """Whether an ``Accept`` header admits an HTML answer (absent: yes)."""
    if accept is None or not accept.strip():
        return True
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        quality = 1.0
        for parameter in fields[1:]:
            if parameter.lower().startswith("q="):
                try:
                    quality = float(parameter[2:])
                except ValueError:
                    quality = 0.0
        if quality > 0 and media in ("text/html", "text/*", "*/*", "application/xhtml+xml"):
            return True
    return False


def accepted_encodings(value: str | None) -> list[str]:
    """``br`` / ``gzip`` in the client's order of preference (q > 0)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((value or "").split(",")):
        fields = [f.strip() for f in part.split(";")]
        name = fields[0].lower()
        quality = 1.0
        for parameter in fields[1:]:
            if parameter.lower().startswith("q="):
                try:
                    quality = float(parameter[2:])
                except ValueError:
                    quality = 0.0
        if name in ("br", "gzip") and quality > 0:
            ranked.append((-quality, index, name))
    return [name for _, _, name in sorted(ranked)]


@attrs.frozen
class LoadedFile:
    path: str
    data: bytes
    mtime: float
    encoding: str | None = None


@attrs.frozen
class Representation:
    """What to send for a request path: a file, the index document, or nothing."""

    kind: str                         # "file" | "index" | "missing" | "forbidden"
    file: LoadedFile | None = None


def _load(path: str, limit: int = CACHE_MAX_FILE_BYTES * 8) -> LoadedFile | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return LoadedFile(path, data, info.st_mtime)


def resolve_file(root: str, relative: str, encodings: Sequence[str]) -> Representation:
    """Blocking (a thread): the file ``relative`` under ``root`` (or its precompressed
    sibling), refusing anything that resolves outside the root."""
    root_real = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root_real, relative))
    if target != root_real and not target.startswith(root_real + os.sep):
        return Representation("forbidden")
    if not os.path.isfile(target):
        return Representation("missing")
    extension = os.path.splitext(target)[1].lower()
    if extension in COMPRESSIBLE and relative.startswith("assets/"):
        for encoding in encodings:
            sibling = target + (".br" if encoding == "br" else ".gz")
            if os.path.isfile(sibling):
                loaded = _load(sibling)
                if loaded is not None:
                    return Representation("file", attrs.evolve(loaded, path=target,
                                                               encoding=encoding))
    loaded = _load(target)
    return Representation("file", loaded) if loaded is not None else Representation("missing")


class _Cache:
    """Bytes of immutable (hashed) assets, least recently used out first."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self._entries: OrderedDict[tuple[str, tuple[str, ...]], LoadedFile] = OrderedDict()
        self._bytes = 0
        self._max = max_bytes

    def get(self, path: str, encodings: Sequence[str]) -> LoadedFile | None:
        """What was served for ``path`` to a client accepting ``encodings`` (in order)."""
        key = (path, tuple(encodings))
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, path: str, encodings: Sequence[str], entry: LoadedFile) -> None:
        if len(entry.data) > CACHE_MAX_FILE_BYTES:
            return
        key = (path, tuple(encodings))
        previous = self._entries.pop(key, None)
        if previous is not None:
            self._bytes -= len(previous.data)
        self._entries[key] = entry
        self._bytes += len(entry.data)
        while self._bytes > self._max and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.data)


@attrs.frozen
class _Index:
    key: tuple[Any, ...]
    body: bytes
    csp: bytes


class ControlUiStage:
    """The Control UI stage of the root resource (see the module docstring)."""

    def __init__(
        self,
        *,
        get_config: Callable[[], ConfigSnapshot],
        authenticator: HttpAuthenticator,
        clock: IReactorTime,
        run_blocking: Callable[..., Any],
        version: str,
        build_id: Callable[[], str],
        agents_view: Callable[[], AgentsView | None] = lambda: None,
        device_token_scopes: Callable[[str], Sequence[str] | None] = lambda token: None,
        bundled_root: str = BUNDLED_ROOT,
    ) -> None:
        self.get_config = get_config
        self.auth = authenticator
        self.clock = clock
        self.run_blocking = run_blocking
        self.version = version
        self.build_id = build_id
        self.agents_view = agents_view
        self.device_token_scopes = device_token_scopes
        self.bundled_root = bundled_root
        self._cache = _Cache()
        self._index: _Index | None = None

    # -- routing ----------------------------------------------------------------------------

    def __call__(self, request: Request, path: bytes) -> bytes | int | None:
        control_ui = self.get_config().config.gateway.control_ui
        if not control_ui.enabled:
            return None
        base = normalize_base_path(control_ui.base_path)
        text = path.decode("utf-8", "replace")
        reading = request.method in (b"GET", b"HEAD")
        if reading and USER_AVATAR.match(text):
            # user profile pictures: none here (one operator identity without a picture)
            return self._authorized(request, self._no_user_avatar)
        if not base:
            if text == "/ui" or text.startswith("/ui/"):
                apply_ui_headers(request)
                return write_text(request, 404, "Not Found")
            if any(text == p or text.startswith(p + "/") for p in NOT_CLAIMED_PREFIXES):
                return None
            if not reading:
                return None
            ui_path = text
        else:
            if text != base and not text.startswith(base + "/"):
                return None
            if not reading:
                return None
            if text == base:
                apply_ui_headers(request)
                query = request.uri.partition(b"?")[2]
                location = base + "/" + (("?" + query.decode("latin-1")) if query else "")
                request.setResponseCode(302)
                request.setHeader(b"location", location.encode("utf-8"))
                request.setHeader(b"content-length", b"0")
                return b""
            ui_path = text[len(base):]
        apply_ui_headers(request)
        if ui_path in (CONFIG_JSON, "/__openclaw" + CONFIG_JSON) or (
                not base and ui_path == "/__openclaw__" + CONFIG_JSON):
            return self._authorized(request, lambda exchange: self._bootstrap(exchange, base))
        if ui_path.startswith("/avatar/"):
            agent_id = unquote(ui_path[len("/avatar/"):])
            if not AGENT_SEGMENT.match(agent_id):
                return write_text(request, 404, "Not Found")
            return self._authorized(request,
                                    lambda exchange: self._avatar(exchange, base, agent_id))
        return self._static(request, ui_path, root=control_ui.root, base=base)

    # -- auth -------------------------------------------------------------------------------

    def _authorized(self, request: Request,
                    handler: Callable[[Exchange], Coroutine[Any, Any, None]]) -> bytes | int:
        """Bearer device token, else the HTTP API's auth decision; needs ``operator.read``."""
        token = bearer_token(request)
        scopes: Sequence[str] | None = self.device_token_scopes(token) if token else None
        if scopes is None:
            auth, failure, delay = self.auth.check(request)
            if auth is None:
                assert failure is not None
                if delay > 0:
                    exchange = Exchange(request, self.clock)

                    def refuse(_: object) -> None:
                        exchange.json(failure.status, failure.body, failure.headers)

                    deferLater(self.clock, delay, lambda: None).addCallback(refuse)
                    return NOT_DONE_YET
                return write_json(request, failure.status, failure.body, failure.headers)
            scopes = shared_secret_scopes(request, auth)
        if not scope_satisfied(READ, scopes):
            return write_json(request, 403, missing_scope_body(READ))
        exchange = Exchange(request, self.clock)
        self._run(exchange, handler(exchange))
        return NOT_DONE_YET

    @staticmethod
    def _run(exchange: Exchange, work: Coroutine[Any, Any, None]) -> None:
        Deferred.fromCoroutine(work).addErrback(exchange.fail)

    @staticmethod
    async def _no_user_avatar(exchange: Exchange) -> None:
        exchange.request.setHeader(b"cache-control", b"no-store")
        exchange.json(404, {"ok": False, "error": {"type": "not_found"}})

    # -- identity ---------------------------------------------------------------------------

    def _identity(self, agent_id: str | None) -> AssistantIdentity | None:
        view = self.agents_view()
        if view is None:
            return None
        if agent_id is not None and view.agent(agent_id) is None:
            return None
        return assistant_identity(view, agent_id)

    async def _avatar_meta(self, identity: AssistantIdentity | None, base: str
                           ) -> dict[str, Any]:
        """``{avatarUrl, avatarSource, avatarStatus, avatarReason}`` (image avatars only)."""
        empty = {"avatarUrl": None, "avatarSource": None, "avatarStatus": None,
                 "avatarReason": None}
        if identity is None or identity.avatar_kind == "none":
            return empty
        if identity.avatar_kind == "remote":
            return {"avatarUrl": identity.avatar_source, "avatarSource": identity.avatar_source,
                    "avatarStatus": "remote", "avatarReason": None}
        data = await self._avatar_bytes(identity)
        if data is None:
            return {"avatarUrl": None, "avatarSource": identity.avatar_source,
                    "avatarStatus": "none", "avatarReason": "missing"}
        url = f"{base}/avatar/{identity.agent_id}?v={avatar_revision(data)}"
        return {"avatarUrl": url, "avatarSource": identity.avatar_source,
                "avatarStatus": identity.avatar_kind, "avatarReason": None}

    async def _avatar_bytes(self, identity: AssistantIdentity) -> bytes | None:
        if identity.avatar_kind == "data":
            return _data_uri_bytes(identity.avatar_source or "")
        if identity.avatar_kind == "local":
            data: bytes | None = await self.run_blocking(read_avatar, identity)
            return data
        return None

    # -- /control-ui-config.json -------------------------------------------------------------

    async def _bootstrap(self, exchange: Exchange, base: str) -> None:
        snapshot = self.get_config()
        control_ui = snapshot.config.gateway.control_ui
        identity = self._identity(None)
        meta = await self._avatar_meta(identity, base)
        name = identity.name if identity is not None else "Assistant"
        avatar = meta["avatarUrl"] or (identity.avatar_text if identity is not None else "A")
        payload: dict[str, Any] = {
            "basePath": base,
            "assistantName": name,
            "assistantAvatar": avatar,
            "assistantAvatarSource": meta["avatarSource"],
            "assistantAvatarStatus": meta["avatarStatus"],
            "assistantAvatarReason": meta["avatarReason"],
        }
        if identity is not None:
            payload["assistantAgentId"] = identity.agent_id
        payload["serverVersion"] = self.version
        if not control_ui.root:
            payload["serverBuildId"] = self.build_id()
        payload.update({
            "embedSandbox": control_ui.embed_sandbox,
            "allowExternalEmbedUrls": control_ui.allow_external_embed_urls,
            "automaticallyFetchFavicons": control_ui.automatically_fetch_favicons,
        })
        if control_ui.environment is not None:
            payload["environment"] = {"label": control_ui.environment.label,
                                      "color": control_ui.environment.color}
        payload.update({
            "communityInvite": control_ui.community_invite,
            "terminalEnabled": False,
            "cliAgentsEnabled": False,
            "pluginAssetsRequireAuth": self.auth.mode != "none",
            "pluginFrameGrants": [],
        })
        exchange.request.setHeader(b"cache-control", NO_CACHE)
        exchange.json(200, payload)

    # -- /avatar/<agentId> ----------------------------------------------------------------------

    async def _avatar(self, exchange: Exchange, base: str, agent_id: str) -> None:
        request = exchange.request
        identity = self._identity(agent_id)
        args: dict[bytes, list[bytes]] = request.args or {}
        if args.get(b"meta") == [b"1"]:
            meta = await self._avatar_meta(identity, base)
            request.setHeader(b"cache-control", NO_CACHE)
            exchange.json(200, meta)
            return
        data = await self._avatar_bytes(identity) if identity is not None else None
        if identity is None or data is None:
            exchange.text(404, "Not Found")
            return
        revision = avatar_revision(data)
        requested = args.get(b"v")
        fresh = requested is not None and requested[0].decode("latin-1") == revision
        mime = identity.mime_type if identity.avatar_kind == "local" else \
            _data_uri_mime(identity.avatar_source or "")
        for name, value in ((b"content-type", mime.encode("latin-1")),
                            (b"cache-control", b"private, max-age=31536000, immutable"
                             if fresh else NO_CACHE),
                            (b"etag", f'"{revision}"'.encode("ascii")),
                            (b"vary", b"Authorization, Cookie"),
                            (b"content-disposition", b'attachment; filename="avatar"'),
                            (b"cross-origin-resource-policy", b"same-origin"),
                            (b"content-security-policy", IMAGE_CSP)):
            request.setHeader(name, value)
        self._send(exchange, 200, data)

    # -- static files and the SPA ------------------------------------------------------------

    def _root(self, configured: str | None) -> tuple[str, bool]:
        """``(directory, bundled)``."""
        if configured:
            return os.path.expanduser(configured), False
        return self.bundled_root, True

    def _static(self, request: Request, ui_path: str, *, root: str | None, base: str
                ) -> bytes | int | None:
        directory, bundled = self._root(root)
        relative = self._relative(ui_path)
        if relative is None:
            return write_text(request, 404, "Not Found")
        extension = os.path.splitext(relative)[1].lower()
        if extension in HIDDEN_EXTENSIONS or any(part.startswith(".") or part == "__pycache__"
                                                 for part in relative.split("/")):
            return write_text(request, 404, "Not Found")
        spa = accepts_html(header(request, "accept"))
        encodings = accepted_encodings(header(request, "accept-encoding"))
        immutable = relative.startswith("assets/") and bool(HASHED_NAME.search(relative))
        if immutable:
            cached = self._cache.get(os.path.join(directory, relative), encodings)
            if cached is not None:
                return self._file_answer(request, cached, relative, immutable)
        exchange = Exchange(request, self.clock)

        async def serve() -> None:
            if relative.endswith("index.html") or relative == "":
                await self._serve_index(exchange, directory, bundled, base, root)
                return
            found: Representation = await self.run_blocking(resolve_file, directory, relative,
                                                            encodings)
            if found.kind == "file" and found.file is not None:
                if immutable:
                    self._cache.put(os.path.join(directory, relative), encodings, found.file)
                if exchange.open:
                    body = self._file_answer(request, found.file, relative, immutable)
                    exchange.end(body)
                return
            if found.kind == "forbidden" or extension in CONTENT_TYPES or not spa:
                exchange.text(404, "Not Found")
                return
            await self._serve_index(exchange, directory, bundled, base, root)

        self._run(exchange, serve())
        return NOT_DONE_YET

    @staticmethod
    def _relative(ui_path: str) -> str | None:
        """The file a UI path names (upstream's mapping), or None for a hostile path."""
        if ui_path in ("", "/"):
            relative = ""
        elif ui_path.startswith("/__openclaw__/") and "/" not in ui_path[14:]:
            relative = ui_path[14:]
        elif "/assets/" in ui_path:
            relative = ui_path[ui_path.index("/assets/") + 1:]
        else:
            relative = ui_path[1:]
        if not relative or relative.endswith("/"):
            relative += "index.html"
        try:
            relative = unquote(relative, errors="strict")
        except UnicodeDecodeError:
            return None
        normalized = os.path.normpath(relative).replace(os.sep, "/")
        if "\0" in relative or normalized.startswith(("../", "/")) or normalized == ".." \
                or os.path.isabs(relative):
            return None
        return normalized

    def _file_answer(self, request: Request, loaded: LoadedFile, relative: str,
                     immutable: bool) -> bytes:
        extension = os.path.splitext(relative)[1].lower()
        request.setResponseCode(200)
        request.setHeader(b"content-type",
                          CONTENT_TYPES.get(extension, "application/octet-stream").encode())
        request.setHeader(b"cache-control", IMMUTABLE if immutable else NO_CACHE)
        request.setHeader(b"vary", b"Accept-Encoding")
        if loaded.encoding is not None:
            request.setHeader(b"content-encoding",
                              b"br" if loaded.encoding == "br" else b"gzip")
        if request.setLastModified(int(loaded.mtime)) == CACHED:
            return b""
        request.setHeader(b"content-length", str(len(loaded.data)).encode("ascii"))
        return b"" if request.method == b"HEAD" else loaded.data

    async def _serve_index(self, exchange: Exchange, directory: str, bundled: bool, base: str,
                           configured: str | None) -> None:
        request = exchange.request
        loaded: LoadedFile | None = await self.run_blocking(
            _load, os.path.join(directory, "index.html"))
        if loaded is None:
            if not bundled:
                exchange.text(503, f"Control UI assets not found at {configured}. Build them "
                                   "or update gateway.controlUi.root.")
                return
            request.setHeader(b"cache-control", NO_CACHE)
            self._send(exchange, 200, PLACEHOLDER_PAGE.encode("utf-8"),
                       b"text/html; charset=utf-8")
            return
        environment = self.get_config().config.gateway.control_ui.environment
        env = None if environment is None else {"label": environment.label,
                                                "color": environment.color}
        build = self.build_id() if bundled else None
        key = (loaded.path, loaded.mtime, len(loaded.data), base, json.dumps(env), build)
        index = self._index
        if index is None or index.key != key:
            document = rewrite_index(loaded.data.decode("utf-8", "replace"), base=base,
                                     environment=env, build_id=build)
            index = self._index = _Index(key, document.encode("utf-8"),
                                         content_security_policy(inline_script_hashes(document)))
        request.setHeader(b"content-security-policy", index.csp)
        request.setHeader(b"cache-control", NO_CACHE)
        self._send(exchange, 200, index.body, b"text/html; charset=utf-8")

    @staticmethod
    def _send(exchange: Exchange, status: int, body: bytes,
              content_type: bytes | None = None) -> None:
        if not exchange.open:
            return
        request = exchange.request
        request.setResponseCode(status)
        if content_type is not None:
            request.setHeader(b"content-type", content_type)
        request.setHeader(b"content-length", str(len(body)).encode("ascii"))
        exchange.end(b"" if request.method == b"HEAD" else body)


def rewrite_index(document: str, *, base: str, environment: dict[str, str] | None,
                  build_id: str | None) -> str:
    """Upstream's ``serveResolvedIndexHtml`` rewrite (asset hrefs, ``<html>`` attributes)."""
    document = RELATIVE_REF.sub(lambda m: f'{m.group(1)}="{base}/', document)
    attributes = f' data-openclaw-control-ui-base-path="{html.escape(base)}"' \
                 ' data-openclaw-terminal-enabled="false"'
    if environment is not None:
        attributes += f' data-openclaw-environment="{html.escape(json.dumps(environment))}"'
    if build_id:
        attributes += f' data-openclaw-control-ui-build-id="{html.escape(build_id)}"'

    def tag(match: re.Match[str]) -> str:
        cleaned = BUILD_ID_ATTRIBUTE.sub("", match.group(0))
        return "<html" + attributes + cleaned[len("<html"):]

    return HTML_TAG.sub(tag, document, count=1)


def _data_uri_bytes(uri: str) -> bytes | None:
    head, _, payload = uri.partition(",")
    if not head.lower().startswith("data:image/"):
        return None
    try:
        if head.lower().endswith(";base64"):
            return base64.b64decode(payload, validate=True)
        return unquote(payload).encode("latin-1")
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def _data_uri_mime(uri: str) -> str:
    head = uri.partition(",")[0]
    return head[5:].split(";")[0] or "application/octet-stream"
