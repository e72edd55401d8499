"""The HTTP API of the gateway port: the stages after the probes, in upstream's order.

:class:`HttpApi` holds what every endpoint needs (live config, the shared auth decision, the
agent runner, the embeddings service, the clock) and hands the root resource its stages::

    hooks -> models -> embeddings -> tools-invoke -> sessions-kill -> sessions-history
          -> openresponses -> openai (chat completions) -> api-not-found

(``spec/http.md`` §1; probes run before, the Control UI after). Each stage claims a request by
path and returns the body, ``NOT_DONE_YET`` for an asynchronous answer, or ``None``. The last
stage answers every unclaimed ``/v1/...`` request with a JSON 404 (naming the config key when
the endpoint is merely disabled) so API clients never get the Control UI page.

It is also the Site's :class:`~openclaw.gateway.http.body.BodyGate`: the per-endpoint body
caps (chat and responses 20 MiB, embeddings 5 MiB, tools 2 MiB, hooks 256 KiB) are enforced
while the body arrives, before anything is buffered past the cap.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http import Request
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Request as SiteRequest

from openclaw.config.loader import ConfigSnapshot
from openclaw.gateway.http.auth import (
    AuthFailure,
    HttpAuth,
    HttpAuthenticator,
    missing_scope_for,
    shared_secret_scopes,
    trusted_scopes,
)
from openclaw.gateway.http.body import (
    BODY_TIMEOUT_S,
    INLINE_PARSE_LIMIT,
    BodyLimit,
    JsonBodyError,
    RawAnswer,
    body_size,
    bounded_request_factory,
    json_error_channel,
    read_and_parse,
)
from openclaw.gateway.http.common import (
    Exchange,
    dumps,
    invalid_request_body,
    method_not_allowed,
    missing_scope_body,
    write_json,
)
from openclaw.providers.registry import SecretValues

if TYPE_CHECKING:
    from openclaw.gateway.http.runs import AgentRunner
    from openclaw.gateway.site import Stage
    from openclaw.memory.embeddings import EmbeddingsService

CHAT_BODY_BYTES: Final = 20 * 1024 * 1024
RESPONSES_BODY_BYTES: Final = 20 * 1024 * 1024
EMBEDDINGS_BODY_BYTES: Final = 5 * 1024 * 1024
TOOLS_BODY_BYTES: Final = 2 * 1024 * 1024
HOOKS_BODY_BYTES: Final = 256 * 1024
SESSIONS_BODY_BYTES: Final = 64 * 1024

PAYLOAD_TOO_LARGE: Final = dumps(invalid_request_body("Payload too large"))
BODY_TIMEOUT: Final = dumps(invalid_request_body("Request body timeout"))

Handler = Callable[[Exchange, HttpAuth, Any], Awaitable[None]]


class HttpApi:
    """Shared state of the HTTP endpoints; ``stages()`` for the root resource."""

    def __init__(
        self,
        *,
        clock: IReactorTime,
        get_config: Callable[[], ConfigSnapshot],
        authenticator: HttpAuthenticator,
        runner: AgentRunner | None,
        run_blocking: Callable[..., Deferred[Any]],
        embeddings: EmbeddingsService | None = None,
        agent_gateway: Callable[[], Any] | None = None,
        get_secrets: Callable[[], SecretValues | None] | None = None,
    ) -> None:
        from openclaw.gateway.http.chat import ChatCompletions
        from openclaw.gateway.http.embeddings import Embeddings
        from openclaw.gateway.http.hooks import Hooks
        from openclaw.gateway.http.models import Models
        from openclaw.gateway.http.responses import Responses
        from openclaw.gateway.http.sessions import SessionRoutes
        from openclaw.gateway.http.tools_invoke import ToolsInvoke

        self.clock = clock
        self.body_timeout_s = BODY_TIMEOUT_S
        self.get_config = get_config
        self.auth = authenticator
        self.runner = runner
        self.run_blocking = run_blocking
        self.embeddings = embeddings
        self.agent_gateway = agent_gateway or (lambda: None)
        self.get_secrets = get_secrets or (lambda: None)
        self.hooks = Hooks(self)
        self.models = Models(self)
        self.embeddings_endpoint = Embeddings(self)
        self.tools = ToolsInvoke(self)
        self.sessions = SessionRoutes(self)
        self.responses = Responses(self)
        self.chat = ChatCompletions(self)

    # -- config ---------------------------------------------------------------------------

    def endpoints(self) -> tuple[bool, bool]:
        """``(chatCompletions.enabled, responses.enabled)``."""
        endpoints = self.get_config().config.gateway.http.endpoints
        return bool(endpoints.chat_completions.enabled), bool(endpoints.responses.enabled)

    def compat_enabled(self) -> bool:
        chat, responses = self.endpoints()
        return chat or responses

    # -- the stages ---------------------------------------------------------------------

    def stages(self) -> list[Stage]:
        return [self.hooks, self.models, self.embeddings_endpoint, self.tools,
                self.sessions.kill_stage, self.sessions.history_stage, self.responses,
                self.chat, self.api_not_found]

    def api_not_found(self, request: Request, path: bytes) -> bytes | None:
        """Unclaimed ``/v1/...``: a JSON 404 (never the Control UI page) naming the switch."""
        if path != b"/v1" and not path.startswith(b"/v1/"):
            return None
        text = path.decode("utf-8", "replace")
        method = request.method.decode("latin-1")
        switch = None
        if text == "/v1/chat/completions":
            switch = "gateway.http.endpoints.chatCompletions.enabled"
        elif text == "/v1/responses":
            switch = "gateway.http.endpoints.responses.enabled"
        elif text in ("/v1/models", "/v1/embeddings") or text.startswith("/v1/models/"):
            switch = ("gateway.http.endpoints.chatCompletions.enabled or "
                      "gateway.http.endpoints.responses.enabled")
        if switch is not None:
            message = f"{method} {text} is disabled on this gateway; set {switch} to true."
            code = "endpoint_disabled"
        else:
            message = f"Unknown endpoint: {method} {text}"
            code = "not_found"
        return write_json(request, 404, {"error": {
            "message": message, "type": "invalid_request_error", "code": code}})

    # -- asynchronous answers -------------------------------------------------------------

    def serve_async(self, request: Request, handler: Callable[[Exchange], Awaitable[None]]
                    ) -> int:
        exchange = Exchange(request, self.clock)

        async def run() -> None:
            await handler(exchange)

        # A disconnect does not cancel the handler coroutine (it may be awaiting a Deferred
        # shared with others, e.g. a session index load): handlers cancel what is theirs -
        # the run (``ticket.cancel``), their own provider request (``exchange.guard``).
        done = Deferred.fromCoroutine(run())

        def failed(failure: Failure) -> None:
            if failure.check(CancelledError) and exchange.gone:
                return
            exchange.fail(failure)

        done.addErrback(failed)
        return NOT_DONE_YET

    def refuse(self, request: Request, failure: AuthFailure, delay: float) -> bytes | int:
        if delay <= 0:
            return write_json(request, failure.status, failure.body, failure.headers)

        async def later(exchange: Exchange) -> None:
            await self.auth.penalty(delay)
            exchange.json(failure.status, failure.body, failure.headers)

        return self.serve_async(request, later)

    def authorize(self, request: Request, method: str, *, trusted: bool = False
                  ) -> tuple[HttpAuth | None, bytes | int | None]:
        """Auth + scope check: ``(auth, None)`` or ``(None, the refusal to return)``."""
        auth, failure, delay = self.auth.check(request)
        if auth is None:
            assert failure is not None
            return None, self.refuse(request, failure, delay)
        scopes = trusted_scopes(request, auth) if trusted else shared_secret_scopes(request, auth)
        missing = missing_scope_for(method, scopes)
        if missing is not None:
            return None, write_json(request, 403, missing_scope_body(missing))
        return auth, None

    def post_json(self, request: Request, *, method: str, max_bytes: int, handler: Handler
                  ) -> bytes | int:
        """``handleGatewayPostJsonEndpoint``: POST, auth, scope, JSON body, then ``handler``."""
        if request.method != b"POST":
            return method_not_allowed(request, "POST")
        auth, refusal = self.authorize(request, method)
        if auth is None:
            assert refusal is not None
            return refusal
        content = request.content
        size = body_size(content)
        if size > max_bytes:
            return write_json(request, 413, PAYLOAD_TOO_LARGE)
        if size <= INLINE_PARSE_LIMIT:
            try:
                body = read_and_parse(content)
            except JsonBodyError as e:
                return write_json(request, 400, invalid_request_body(str(e)))
            return self.serve_async(request, lambda exchange: handler(exchange, auth, body))

        async def parse_then_handle(exchange: Exchange) -> None:
            try:
                parsed = await self.run_blocking(read_and_parse, content)
            except JsonBodyError as e:
                exchange.json(400, invalid_request_body(str(e)))
                return
            await handler(exchange, auth, parsed)

        return self.serve_async(request, parse_then_handle)

    # -- the body gate --------------------------------------------------------------------

    def prepared_answer(self, request: Request) -> tuple[bytes, int] | None:
        """The hot endpoint answered without the resource tree (see ``BodyGate``): today
        ``GET /v1/models`` over HTTP/1.1 from a caller whose identical earlier request passed
        auth. Anything else - another path or method, an upgrade, a header already set on
        the response (``Connection: close``), a hooks path claiming it, a caller not yet
        remembered - goes through the tree, which answers exactly the same bytes."""
        if request.method != b"GET" or request.path != b"/v1/models" \
                or request.clientproto != b"HTTP/1.1":
            return None
        if request.responseHeaders.hasHeader(b"connection") \
                or request.requestHeaders.hasHeader(b"upgrade"):
            return None
        if not self.compat_enabled() or self.hooks.claims(request.path):
            return None
        auth = self.auth.remembered(request)
        if auth is None or missing_scope_for("models.list",
                                             shared_secret_scopes(request, auth)) is not None:
            return None
        return self.models.prepared(request)

    def body_limit(self, request: Request, method: bytes, uri: bytes) -> BodyLimit | None:
        path = urlsplit(uri).path or b"/"
        if isinstance(path, str):  # pragma: no cover (urlsplit keeps bytes)
            path = path.encode()
        hooks_limit = self.hooks.body_limit(request, path, uri)
        if hooks_limit is not None:
            return hooks_limit
        if path == b"/v1/chat/completions":
            cap = CHAT_BODY_BYTES if self.endpoints()[0] else None
        elif path == b"/v1/responses":
            cap = RESPONSES_BODY_BYTES if self.endpoints()[1] else None
        elif path == b"/v1/embeddings":
            cap = EMBEDDINGS_BODY_BYTES if self.compat_enabled() else None
        elif path == b"/tools/invoke":
            cap = TOOLS_BODY_BYTES
        elif path.startswith(b"/sessions/"):
            cap = SESSIONS_BODY_BYTES
        else:
            return None
        if cap is None:
            return None
        return BodyLimit(cap, self._api_too_large(method), self._api_timeout,
                         self.body_timeout_s)

    def _api_too_large(self, method: bytes) -> Callable[[Request], RawAnswer]:
        def answer(request: Request) -> RawAnswer:
            if method != b"POST":
                return RawAnswer(405, b"Method Not Allowed", b"text/plain; charset=utf-8",
                                 ((b"allow", b"POST"),))
            failure = self.auth.probe(request)
            if failure is not None:
                return RawAnswer(failure.status, dumps(failure.body), headers=failure.headers)
            return RawAnswer(413, PAYLOAD_TOO_LARGE)

        return answer

    @staticmethod
    def _api_timeout(request: Request) -> RawAnswer:
        return RawAnswer(408, BODY_TIMEOUT)

    def request_factory(self, base_headers: tuple[tuple[bytes, bytes], ...]
                        ) -> type[SiteRequest]:
        """The Site's request class with this API's body caps."""
        return bounded_request_factory(self, self.clock, base_headers=base_headers,
                                       timeout_s=self.body_timeout_s)

    def channel_factory(self, base_headers: tuple[tuple[bytes, bytes], ...]
                        ) -> Callable[[], Any]:
        """The Site's ``protocol``: channel refusals in the API's JSON error shape."""
        return json_error_channel(base_headers)
