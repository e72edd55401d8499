"""Discord's REST API (v10) on treq, with its rate limits honoured.

``Authorization: Bot <token>``; errors come back as :class:`DiscordApiError` with the HTTP
status, Discord's error ``code`` and ``message``. Rate limits, per bucket (the method and
the route with its major parameter, channel or guild): a 429 makes every request of that
bucket -- or, ``global``, every request -- wait ``retry_after`` (body, else ``Retry-After``)
on the clock, then the request is sent again (at most three times); a bucket answered with
``X-RateLimit-Remaining: 0`` waits ``X-RateLimit-Reset-After`` before its next request.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

import treq.client
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import deferLater

from openclaw.channels.http_client import ChannelHttpClient, Headers

DEFAULT_TIMEOUT_S: Final = 15.0
MAX_RATE_LIMIT_RETRIES: Final = 3
USER_AGENT: Final = "DiscordBot (https://openclaw.ai, 2026.9.6)"


class DiscordApiError(Exception):
    def __init__(self, method: str, path: str, status: int, message: str, code: int = 0,
                 retry_after: float | None = None, is_global: bool = False) -> None:
        super().__init__(f"{message} ({status}{f'/{code}' if code else ''})")
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after
        self.is_global = is_global


def bucket_of(method: str, path: str) -> str:
    """The rate-limit bucket of a request: ids other than the major one are generic."""
    major = re.match(r"^/(channels|guilds|webhooks)/(\d+)", path)
    rest = path[major.end():] if major else path
    rest = re.sub(r"/\d+", "/:id", rest)
    rest = re.sub(r"/reactions/[^/]+", "/reactions/:emoji", rest)
    return f"{method} {major.group(0) if major else ''}{rest}"


class DiscordRest(ChannelHttpClient):
    def __init__(self, reactor: Any, clock: Any, base: str, token: str) -> None:
        super().__init__(reactor, clock)
        self.base = base.rstrip("/")
        self.token = token
        self._blocked_until: dict[str, float] = {}
        self._global_until = 0.0
        self.started: Counter[str] = Counter()      # requests sent, per bucket

    async def request(self, method: str, path: str, body: Any = None, *,
                      timeout_s: float = DEFAULT_TIMEOUT_S,
                      attempts: int = MAX_RATE_LIMIT_RETRIES) -> Any:
        bucket = bucket_of(method, path)
        for attempt in range(attempts + 1):
            wait = max(self._global_until, self._blocked_until.get(bucket, 0.0)) \
                - self.clock.seconds()
            if wait > 0:
                pause = deferLater(self.clock, wait, lambda: None)
                if attempt > 0:
                    self._notify_rate_limited(wait)
                await pause
            try:
                return await self._once(method, path, body, bucket, timeout_s)
            except DiscordApiError as e:
                if e.status != 429 or attempt >= attempts:
                    raise
                until = self.clock.seconds() + (e.retry_after if e.retry_after is not None
                                                else 1.0)
                if e.is_global:
                    self._global_until = until
                else:
                    self._blocked_until[bucket] = until
        raise AssertionError("unreachable")

    def _once(self, method: str, path: str, body: Any, bucket: str,
              timeout_s: float) -> Deferred[Any]:
        if self.closed:
            return fail(DiscordApiError(method, path, 0, "client closed"))
        self.started[bucket] += 1
        headers: Headers = {
            "Authorization": [f"Bot {self.token}"], "User-Agent": [USER_AGENT]}
        data = None
        if body is not None:
            headers["Content-Type"] = ["application/json"]
            data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        return self._send(method, self.base + path, headers=headers, data=data,
                          timeout_s=timeout_s,
                          decode=lambda response: self._decode(method, path, bucket, response))

    async def _decode(self, method: str, path: str, bucket: str, response: Any) -> Any:
        raw = await treq.content(response)
        try:
            payload = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            payload = None
        headers = response.headers
        remaining = _header(headers, b"x-ratelimit-remaining")
        reset_after = _header(headers, b"x-ratelimit-reset-after")
        if remaining == "0" and reset_after:
            with contextlib.suppress(ValueError):
                self._blocked_until[bucket] = self.clock.seconds() + float(reset_after)
        if response.code < 400:
            return payload
        body: Mapping[str, Any] = payload if isinstance(payload, dict) else {}
        retry_after: float | None = None
        if response.code == 429:
            value = body.get("retry_after")
            if isinstance(value, int | float):
                retry_after = float(value)
            else:
                header = _header(headers, b"retry-after")
                retry_after = float(header) if header and _is_number(header) else None
        message = str(body.get("message") or response.phrase.decode("utf-8", "replace"))
        code = body.get("code")
        raise DiscordApiError(method, path, int(response.code), message,
                              int(code) if isinstance(code, int) else 0, retry_after,
                              bool(body.get("global")))

    # -- endpoints ----------------------------------------------------------------------

    def get(self, path: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Deferred[Any]:
        return Deferred.fromCoroutine(self.request("GET", path, timeout_s=timeout_s))

    def post(self, path: str, body: Any = None) -> Deferred[Any]:
        return Deferred.fromCoroutine(self.request("POST", path, body if body is not None
                                                   else {}))

    def patch(self, path: str, body: Any) -> Deferred[Any]:
        return Deferred.fromCoroutine(self.request("PATCH", path, body))

    def delete(self, path: str) -> Deferred[Any]:
        return Deferred.fromCoroutine(self.request("DELETE", path))


def _header(headers: Any, name: bytes) -> str | None:
    values = headers.getRawHeaders(name)
    return values[0].decode("latin-1") if values else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
