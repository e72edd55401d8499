"""Bad input against a real gateway: hypothesis-generated WebSocket frames (before and after
``connect``) and HTTP API bodies, and the edge cases with a defined answer - invalid UTF-8
closes 1007, form bodies get the JSON error shape, oversized header fields 431, malformed
requests a JSON 400. After every example the connection must have answered or closed (never
hung), and at the end the gateway must be alive with no traceback in its log.

``RELIABILITY_FUZZ_EXAMPLES`` (default 120) examples per property;
``RELIABILITY_FUZZ_RANDOM=1`` draws new examples each run (default: a fixed seed).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import tempfile
from typing import Any, ClassVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.reliability.harness import (
    TOKEN,
    CrowdedUpstream,
    GatewayChild,
    RawWs,
    Report,
    close_code,
    count_by,
    gateway_config,
    size,
    ws_frame,
)

EXAMPLES = size("FUZZ_EXAMPLES", 120)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("RELIABILITY_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck))
# close codes a fuzzed connection may end with (1011 = the gateway failed: never)
EXPECTED_CLOSES = {1000, 1002, 1003, 1007, 1008, 1009}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
frame_payloads = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"type": st.sampled_from(["req", "res", "event", "cancel", "x"]),
                           "id": st.one_of(st.text(max_size=8), st.integers()),
                           "method": st.sampled_from(["health", "connect", "chat.send",
                                                      "config.get", "sessions.list", "nope",
                                                      ""]),
                           "params": json_values}).map(lambda v: json.dumps(v).encode()),
    st.just(b"\xff\xfe{not utf-8}"),
)
# mostly well-formed frames (so the messages reach the gateway's own parsing), some not
frames = st.lists(st.tuples(st.sampled_from([1] * 6 + [2, 0, 8, 9, 10, 3, 11]),
                            st.sampled_from([True] * 6 + [False]),
                            st.sampled_from([0] * 8 + [1, 4]),
                            st.sampled_from([True] * 8 + [False]),
                            frame_payloads), min_size=1, max_size=4)


class _Gateway(SynchronousTestCase):
    gateway: GatewayChild
    upstream: CrowdedUpstream
    outcomes: ClassVar[list[str]] = []

    def setUp(self) -> None:
        self.upstream = CrowdedUpstream(backlog=64)
        self.addCleanup(self.upstream.stop)
        config = gateway_config(self.upstream.url)
        config["gateway"]["http"] = {"endpoints": {"chatCompletions": {"enabled": True},
                                                   "responses": {"enabled": True}}}
        self.gateway = GatewayChild(tempfile.mkdtemp(prefix="oc-rel-fuzz-"), config)
        self.addCleanup(self.gateway.kill)
        self.gateway.start()
        if not self.gateway.ready.wait(60) or self.gateway.exited.is_set():
            self.fail(f"gateway did not start:\n{self.gateway.log()[-2000:]}")

    def assert_alive(self, report: Report) -> None:
        status, _, body = http_request(self.gateway.port, "GET", "/healthz")
        tracebacks = self.gateway.log().count("Traceback")
        report.add(f"after: /healthz {status}, process alive "
                   f"{self.gateway.proc is not None and self.gateway.proc.poll() is None}, "
                   f"tracebacks in the log {tracebacks}")
        report.emit()
        self.assertEqual(status, 200, body)
        self.assertEqual(tracebacks, 0, self.gateway.log()[-3000:])


def http_request(port: int, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def raw_http(port: int, data: bytes) -> bytes:
    """Send raw bytes, read the answer until the gateway closes (hang detector: 20 s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def json_error(body: bytes) -> dict[str, Any]:
    value = json.loads(body)
    assert isinstance(value, dict) and isinstance(value.get("error"), dict), value
    assert isinstance(value["error"].get("message"), str), value
    return value


class WebSocketFuzzTests(_Gateway):
    def _probe(self, client: RawWs, authed: bool) -> str:
        """Send a request that must be answered; the outcome of the connection."""
        probe = {"type": "req", "id": "probe", "method": "health"} if authed else {
            "type": "req", "id": "probe", "method": "connect", "params": {
                "minProtocol": 4, "maxProtocol": 4,
                "client": {"id": "cli", "version": "1", "platform": "linux", "mode": "cli"},
                "role": "operator", "scopes": ["operator.read"], "auth": {"token": TOKEN}}}
        with contextlib.suppress(OSError):     # closed already: its close frame is read below
            client.send_json(probe)
        while True:
            try:
                opcode, payload = client.read_frame()
            except TimeoutError:
                return "hung"
            if opcode == 1:
                try:
                    frame = json.loads(payload)
                except ValueError:
                    continue
                if frame.get("id") == "probe":
                    return "answered"
            elif opcode == 8:
                return f"closed {close_code(payload)}"
            elif opcode == -1:
                return "tcp closed"

    def test_fuzzed_frames(self) -> None:
        outcomes: list[str] = []

        @FUZZ
        @given(frames=frames, authed=st.sampled_from([True, True, False]))
        def example(frames: list[tuple[int, bool, int, bool, bytes]], authed: bool) -> None:
            client = RawWs(self.gateway.port, timeout=10)
            try:
                if authed:
                    client.connect()
                else:
                    client.upgrade()
                    client.read_frame()
                try:
                    for opcode, fin, rsv, mask, payload in frames:
                        if opcode >= 8:
                            payload = payload[:125]
                        client.send(ws_frame(payload, opcode, fin=fin, mask=mask, rsv=rsv))
                except OSError:
                    outcomes.append("tcp closed")
                    return
                outcome = self._probe(client, authed)
                outcomes.append(outcome)
                assert outcome != "hung", (frames, authed)
                if outcome.startswith("closed "):
                    code = outcome.split()[1]
                    assert code == "None" or int(code) in EXPECTED_CLOSES, (outcome, frames)
            finally:
                client.close()

        example()
        report = Report(f"WebSocket fuzz: {len(outcomes)} connections of 1-4 generated frames")
        report.add(f"outcomes: {count_by(outcomes)}")
        self.assert_alive(report)

    def test_invalid_utf8_closes_1007(self) -> None:
        codes = []
        for authed in (False, True):
            client = RawWs(self.gateway.port)
            if authed:
                client.connect()
            else:
                client.upgrade()
                client.read_frame()
            client.send(ws_frame(b'{"type":"req","id":"\xc3\x28"}'))
            codes.append(client.read_until_close())
            client.close()
        report = Report("invalid UTF-8 in a text frame (before / after connect)")
        report.add(f"close codes: {codes}")
        self.assertEqual(codes, [1007, 1007])
        self.assert_alive(report)


class HttpFuzzTests(_Gateway):
    def test_fuzzed_bodies(self) -> None:
        statuses: list[int] = []
        auth = {"Authorization": f"Bearer {TOKEN}"}

        @FUZZ
        @given(path=st.sampled_from(["/v1/chat/completions"] * 3 + ["/v1/responses"] * 2
                                    + ["/v1/embeddings", "/tools/invoke", "/v1/models"]),
               body=st.one_of(st.binary(max_size=300),
                              json_values.map(lambda v: json.dumps(v).encode()),
                              st.fixed_dictionaries({
                                  "model": st.sampled_from(["openclaw"] * 2 + ["up/m1", "", 3]),
                                  "messages": st.lists(st.fixed_dictionaries({
                                      "role": st.sampled_from(["user", "system", "x"]),
                                      "content": st.text(max_size=30) | json_values}),
                                      min_size=1, max_size=2),
                                  "input": st.text(max_size=30) | json_values,
                                  "stream": st.booleans()}).map(
                                      lambda v: json.dumps(v).encode())),
               content_type=st.sampled_from(["application/json", "text/plain",
                                             "multipart/form-data; boundary=X",
                                             "multipart/form-data",
                                             "application/x-www-form-urlencoded", ""]),
               authed=st.sampled_from([True] * 4 + [False]))
        def example(path: str, body: bytes, content_type: str, authed: bool) -> None:
            headers = dict(auth) if authed else {}
            if content_type:
                headers["Content-Type"] = content_type
            status, response_headers, answer = http_request(self.gateway.port, "POST", path,
                                                            body, headers)
            statuses.append(status)
            assert status < 500 or status == 503, (status, path, body, answer[:300])
            if status == 405:
                # the reference gateway's 405 is text (spec http.md, "method not allowed")
                assert answer == b"Method Not Allowed" and response_headers.get("Allow")
            elif status >= 400:
                assert "json" in response_headers.get("Content-Type", ""), answer[:200]
                json_error(answer)

        example()
        report = Report(f"HTTP API fuzz: {len(statuses)} generated POST bodies")
        report.add(f"statuses: {count_by(statuses)}")
        self.assert_alive(report)

    def test_refusals_in_the_json_shape(self) -> None:
        port = self.gateway.port
        token = TOKEN.encode()
        cases = {
            "multipart body": (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                               b"Authorization: Bearer " + token + b"\r\n"
                               b"Content-Type: multipart/form-data\r\nContent-Length: 5\r\n"
                               b"Connection: close\r\n\r\nhello", 400),
            "64 KiB header line": (b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: "
                                   + b"a" * 65536 + b"\r\n\r\n", 431),
            "600 header fields": (b"GET /v1/models HTTP/1.1\r\nHost: x\r\n"
                                  + b"".join(b"X-H%d: v\r\n" % i for i in range(600))
                                  + b"\r\n", 431),
            "malformed request line": (b"NOT A REQUEST\r\n\r\n", 400),
            "bad chunk": (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n", 400),
        }
        report = Report("HTTP refusals")
        wrong = []
        for name, (data, expected) in cases.items():
            answer = raw_http(port, data)
            head, _, body = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else None
            try:
                shaped = bool(json_error(body))
            except Exception:
                shaped = False
            report.add(f"{name}: {status} {'JSON error' if shaped else repr(body[:60])}")
            if status != expected or not shaped:
                wrong.append(name)
        self.assertEqual(wrong, [])
        self.assert_alive(report)
