"""A small Telegram Bot API client on treq: ``POST {apiRoot}/bot{token}/{method}`` with a
JSON body, answers ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}``.

Every call is bounded by a timeout on the account's clock and cancellable (stopping an
account never waits for Telegram). :meth:`TelegramApi.call_retrying` honours a 429's
``retry_after``: the next request waits exactly that long, on the clock, as grammY's
auto-retry does upstream. The token is part of every URL, so URLs are never logged.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

import treq.client
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import deferLater

from openclaw.channels.http_client import ChannelHttpClient, Headers

DEFAULT_API_ROOT: Final = "https://api.telegram.org"
DEFAULT_TIMEOUT_S: Final = 60.0
# Per-method request timeouts (``extensions/telegram/src/request-timeouts.ts``).
TIMEOUTS_S: Final = {"getme": 15.0, "deletewebhook": 15.0, "getwebhookinfo": 15.0,
                     "getupdates": 45.0, "editmessagetext": 15.0, "deletemessage": 15.0,
                     "getchat": 15.0, "getchatmember": 15.0, "setmycommands": 15.0}
MAX_RATE_LIMIT_RETRIES: Final = 3


class TelegramApiError(Exception):
    """An answer with ``ok: false`` (or a non-JSON error answer)."""

    def __init__(self, method: str, code: int, description: str,
                 retry_after: float | None = None) -> None:
        super().__init__(description)
        self.method = method
        self.code = code
        self.description = description
        self.retry_after = retry_after

    @property
    def parse_error(self) -> bool:
        """Telegram refused the HTML markup (``can't parse entities``)."""
        return self.code == 400 and "can't parse entities" in self.description.lower()

    @property
    def not_modified(self) -> bool:
        return self.code == 400 and "message is not modified" in self.description.lower()


def api_base(api_root: str | None) -> str:
    """``resolveTelegramApiBase``: the root without a trailing slash (an accidental
    ``/bot<TOKEN>`` suffix is dropped)."""
    root = (api_root or "").strip() or DEFAULT_API_ROOT
    root = root.rstrip("/")
    tail = root.rsplit("/", 1)[-1]
    if tail.startswith("bot") and ":" in tail:
        root = root.rsplit("/", 1)[0]
    return root


class TelegramApi(ChannelHttpClient):
    def __init__(self, reactor: Any, clock: Any, api_root: str | None, token: str) -> None:
        super().__init__(reactor, clock)
        self.base = f"{api_base(api_root)}/bot{token}"
        self.started: Counter[str] = Counter()    # requests sent, per method (tests, status)

    def call(self, method: str, params: Mapping[str, Any] | None = None, *,
             timeout_s: float | None = None) -> Deferred[Any]:
        """The ``result`` of one call (a cancellable Deferred); fails with
        :class:`TelegramApiError` when Telegram said no."""
        if self.closed:
            return fail(TelegramApiError(method, 0, "client closed"))
        self.started[method] += 1
        body = json.dumps({k: v for k, v in (params or {}).items() if v is not None},
                          separators=(",", ":")).encode("utf-8")
        headers: Headers = {"Content-Type": ["application/json"]}
        timeout = timeout_s if timeout_s is not None else TIMEOUTS_S.get(method.lower(),
                                                                         DEFAULT_TIMEOUT_S)
        return self._send("POST", f"{self.base}/{method}", headers=headers, data=body,
                          timeout_s=timeout,
                          decode=lambda response: self._decode(method, response))

    async def call_retrying(self, method: str, params: Mapping[str, Any] | None = None, *,
                            timeout_s: float | None = None,
                            attempts: int = MAX_RATE_LIMIT_RETRIES) -> Any:
        """:meth:`call`, retried after a 429's ``retry_after`` (at most ``attempts`` waits;
        then the 429 is raised for the caller to defer)."""
        for attempt in range(attempts + 1):
            try:
                return await self.call(method, params, timeout_s=timeout_s)
            except TelegramApiError as e:
                if e.code != 429 or attempt >= attempts:
                    raise
                wait = e.retry_after if e.retry_after is not None else 1.0
                pause = deferLater(self.clock, wait, lambda: None)
                self._notify_rate_limited(wait)
                await pause
        raise AssertionError("unreachable")

    async def _decode(self, method: str, response: Any) -> Any:
        raw = await treq.content(response)
        try:
            payload = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise TelegramApiError(method, int(response.code),
                                   f"{method} failed ({response.code})")
        if payload.get("ok") is True and response.code < 400:
            return payload.get("result")
        parameters = payload.get("parameters") or {}
        retry = parameters.get("retry_after") if isinstance(parameters, dict) else None
        header = response.headers.getRawHeaders(b"retry-after")
        if retry is None and header:
            try:
                retry = float(header[0])
            except ValueError:
                retry = None
        description = payload.get("description")
        raise TelegramApiError(
            method, int(payload.get("error_code") or response.code),
            str(description) if description else f"{method} failed ({response.code})",
            float(retry) if isinstance(retry, int | float) else None)
