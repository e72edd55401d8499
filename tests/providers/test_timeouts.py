"""Provider timeouts on a Clock: no response in time (retried with backoff), a stalled stream.

The real treq client runs over an agent that answers what the test says when the test says it,
so the seconds here are the Clock's, never the wall's.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent
from zope.interface import implementer

from openclaw.providers.http import PostStreamOptions, post_stream
from openclaw.providers.types import KIND_TIMEOUT, ProviderError


class _StalledResponse:
    """A 200 whose body sends one event and then nothing."""

    code = 200
    phrase = b"OK"
    version = (b"HTTP", 1, 1)
    length = None
    request = None
    previousResponse = None

    def __init__(self) -> None:
        self.headers = Headers({b"content-type": [b"text/event-stream"]})
        self.transport = StringTransport()

    def deliverBody(self, protocol: Any) -> None:
        protocol.makeConnection(self.transport)
        protocol.dataReceived(b'data: {"choices":[]}\n\n')

    def setPreviousResponse(self, response: Any) -> None:
        self.previousResponse = response


@implementer(IAgent)
class _Agent:
    """Requests recorded; each answered by the next scripted response (None: never)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[Deferred[Any]] = []
        self.cancelled = 0

    def request(self, method: bytes, uri: bytes, headers: Any = None,
                bodyProducer: Any = None) -> Deferred[Any]:
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            return succeed(answer)
        pending: Deferred[Any] = Deferred(lambda _d: self._cancel())
        self.requests.append(pending)
        return pending

    def _cancel(self) -> None:
        self.cancelled += 1


def _options(**overrides: Any) -> PostStreamOptions:
    values: dict[str, Any] = {"provider": "scripted", "model": "m1",
                              "url": "http://127.0.0.1:9/v1/chat/completions",
                              "headers": {}, "body": {"model": "m1"}, "timeout": 10.0,
                              "retries": 2}
    values.update(overrides)
    return PostStreamOptions(**values)


def _client(agent: _Agent) -> Any:
    from treq.client import HTTPClient

    return HTTPClient(agent)


class ProviderTimeoutTests(SynchronousTestCase):
    def test_no_response_is_retried_with_backoff_then_a_timeout_error(self) -> None:
        clock, agent = Clock(), _Agent()
        retries: list[tuple[int, float]] = []
        result = ensureDeferred(post_stream(_client(agent), clock, _options(
            on_retry=lambda attempt, wait, _error: retries.append((attempt, wait)))))
        clock.advance(9.9)
        self.assertNoResult(result)
        self.assertEqual(len(agent.requests), 1)
        clock.advance(0.1)          # the first request times out: 0.5 s to the second
        self.assertEqual((agent.cancelled, retries), (1, [(1, 0.5)]))
        clock.advance(0.5)
        self.assertEqual(len(agent.requests), 2)
        clock.advance(10)           # the second: 1 s to the third
        self.assertEqual(retries, [(1, 0.5), (2, 1.0)])
        clock.advance(1)
        self.assertEqual(len(agent.requests), 3)
        self.assertNoResult(result)
        clock.advance(10)           # the third and last
        error = self.failureResultOf(result, ProviderError).value
        self.assertEqual(error.kind, KIND_TIMEOUT)
        self.assertEqual(str(error), "scripted: no response from "
                         "http://127.0.0.1:9/v1/chat/completions within 10s (timeout)")
        self.assertEqual((agent.cancelled, clock.getDelayedCalls()), (3, []))

    def test_a_stream_silent_for_the_timeout_fails_without_a_retry(self) -> None:
        clock, response = Clock(), _StalledResponse()
        agent = _Agent(response)
        opened = ensureDeferred(post_stream(_client(agent), clock, _options(timeout=5.0)))
        stream, _ = self.successResultOf(opened)
        first = ensureDeferred(stream.__anext__())
        self.assertEqual(self.successResultOf(first).data, '{"choices":[]}')
        waiting = ensureDeferred(stream.__anext__())
        clock.advance(4.9)
        self.assertNoResult(waiting)
        clock.advance(0.1)
        error = self.failureResultOf(waiting, ProviderError).value
        self.assertEqual(error.kind, KIND_TIMEOUT)
        self.assertEqual(str(error), "scripted: no data from the model for 5s (timeout)")
        self.assertTrue(response.transport.producerState == "stopped"
                        or response.transport.disconnecting)
        self.assertEqual(clock.getDelayedCalls(), [])
