"""What the fault suite is built from: a real gateway child process with its log captured, a
model upstream whose faults are chosen per request, a raw WebSocket client for malformed
traffic, RSS readings, sizes from the environment, and a report every test prints.

Waiting is on events (a ready line in the log, a response, a process exit); the deadlines
passed around are hang detectors only.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

import tests.agents.support as agent_support
from tests.agents.support import WsClient
from tests.support import REPO_ROOT, free_port, isolated_env, write_config
from tests.upstream import _chunk, _sse

reactor: Any = cast(Any, global_reactor)
TOKEN = agent_support.TOKEN      # what tests.agents.support.WsClient presents


def size(name: str, default: int) -> int:
    """A size of the suite: ``RELIABILITY_<NAME>`` from the environment, else ``default``
    (small, so CI runs the suite in bounded time)."""
    value = os.environ.get(f"RELIABILITY_{name}")
    return int(value) if value else default


class Report:
    """What a test tried and what was lost, printed at its end (``-s`` / trial shows it)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        self.lines.append(text)

    def emit(self) -> None:
        print(f"\n[reliability] {self.title}", file=sys.stderr)
        for line in self.lines:
            print(f"  {line}", file=sys.stderr)


# --------------------------------------------------------------------------- gateway


class GatewayChild:
    """``python -m openclaw gateway`` with its output copied to ``<state>/gateway.log`` by a
    reader thread, which also notes the ready line and the exit."""

    READY = "gateway ready (pid"

    def __init__(self, base_dir: str, config: Mapping[str, Any], port: int | None = None,
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.env = isolated_env(base_dir)
        self.env["PYTHONPATH"] = REPO_ROOT
        self.env.update(extra_env or {})
        self.state_dir = self.env["OPENCLAW_STATE_DIR"]
        self.config = dict(config)
        write_config(self.env, self.config)
        self.port = port or free_port()
        self.log_path = os.path.join(self.state_dir, "gateway.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready = threading.Event()
        self.exited = threading.Event()
        self.starts = 0
        self._lines: list[str] = []
        self._lines_changed = threading.Condition()

    def start(self) -> GatewayChild:
        self.ready.clear()
        self.exited.clear()
        self.starts += 1
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openclaw", "gateway", "--port", str(self.port)],
            env=self.env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        return self

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            for line in proc.stdout:
                log.write(line)
                log.flush()
                with self._lines_changed:
                    self._lines.append(line.decode("utf-8", "replace"))
                    self._lines_changed.notify_all()
                if self.READY.encode() in line:
                    self.ready.set()
        proc.wait()
        self.exited.set()
        self.ready.set()        # never leave a waiter on a process that is gone
        with self._lines_changed:
            self._lines_changed.notify_all()

    def mark(self) -> int:
        """A position in the log: :meth:`wait_log` looks at lines after it."""
        with self._lines_changed:
            return len(self._lines)

    def wait_log(self, text: str, since: int, timeout: float = 30.0) -> Deferred[str]:
        """The first log line after ``since`` containing ``text`` (waits for it to be
        written)."""
        return self.next_log(text, since, timeout).addCallback(lambda found: found[1])

    def next_log(self, text: str, since: int, timeout: float = 30.0
                 ) -> Deferred[tuple[int, str]]:
        """``(position after it, line)`` of the first log line after ``since`` containing
        ``text``."""

        def wait() -> tuple[int, str]:
            with self._lines_changed:
                index = since
                while True:
                    while index < len(self._lines):
                        if text in self._lines[index]:
                            return index + 1, self._lines[index]
                        index += 1
                    if self.exited.is_set():
                        raise AssertionError(f"gateway exited before logging {text!r}")
                    if not self._lines_changed.wait(timeout):
                        raise AssertionError(f"no log line {text!r} within {timeout}s")

        return deferToThread(wait)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def wait_ready(self, timeout: float = 60.0) -> Deferred[None]:
        def wait() -> None:
            if not self.ready.wait(timeout):
                raise AssertionError(f"gateway not ready within {timeout}s")
            if self.exited.is_set():
                raise AssertionError(f"gateway exited at start-up:\n{self.log()[-3000:]}")

        return deferToThread(wait)

    def wait_exit(self, timeout: float = 60.0) -> Deferred[int]:
        def wait() -> int:
            assert self.proc is not None
            if not self.exited.wait(timeout):
                raise AssertionError(f"gateway did not exit within {timeout}s")
            return int(self.proc.returncode)

        return deferToThread(wait)

    def signal(self, number: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(number)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return ""

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    # -- the state it leaves on disk -----------------------------------------------------

    def sessions_dir(self, agent: str = "main") -> str:
        return os.path.join(self.state_dir, "agents", agent, "sessions")

    def index(self, agent: str = "main") -> dict[str, Any]:
        path = os.path.join(self.sessions_dir(agent), "sessions.json")
        try:
            with open(path, encoding="utf-8") as handle:
                value = json.load(handle)
        except FileNotFoundError:
            return {}
        return value if isinstance(value, dict) else {}

    def transcript(self, key: str, agent: str = "main") -> list[dict[str, Any]]:
        """Every record of ``key``'s transcript; a torn record fails the test."""
        entry = self.index(agent).get(key)
        if not entry:
            return []
        path = os.path.join(self.sessions_dir(agent), f"{entry['sessionId']}.jsonl")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        if lines[-1] == b"":
            lines = lines[:-1]
        return [json.loads(line) for line in lines]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise AssertionError(f"no VmRSS for {pid}")


def gateway_config(upstream_url: str, **agents_defaults: Any) -> dict[str, Any]:
    defaults = {"model": "up/m1", "skipBootstrap": True, **agents_defaults}
    return {"gateway": {"mode": "local", "auth": {"token": TOKEN}},
            "models": {"providers": {"up": {"baseUrl": upstream_url, "apiKey": "k",
                                            "models": [{"id": "m1", "name": "m1"}]}}},
            "agents": {"defaults": defaults},
            "logging": {"level": "info"}}


def user_texts(records: Iterable[Mapping[str, Any]]) -> list[str]:
    out = []
    for record in records:
        message = record.get("message")
        if record.get("type") == "message" and isinstance(message, dict) \
                and message.get("role") == "user":
            out.append(str(message.get("content")))
    return out


def assistant_texts(records: Iterable[Mapping[str, Any]]) -> list[str]:
    out = []
    for record in records:
        message = record.get("message")
        if record.get("type") == "message" and isinstance(message, dict) \
                and message.get("role") == "assistant" and message.get("stopReason") == "stop":
            out.append("".join(block.get("text", "") for block in message.get("content") or []
                               if isinstance(block, dict)))
    return out


# --------------------------------------------------------------------------- upstream


class FaultUpstream(Resource):
    """An OpenAI-compatible ``/v1/chat/completions`` on loopback; the last user message picks
    the answer: ``fault:429`` (once, with ``Retry-After: 1``), ``fault:500`` (once),
    ``fault:reset`` (two deltas, then the connection is aborted), ``fault:hang`` (headers,
    one delta, then silence), ``fault:garbage`` (a 200 stream of non-JSON lines),
    ``slow:<ms>`` (deltas ``<ms>`` apart); otherwise an immediate answer ``echo: <text>``."""

    isLeaf = True

    def __init__(self, chunks: int = 4) -> None:
        super().__init__()
        self.chunks = chunks
        self.requests = 0
        self.faulted: set[str] = set()
        self.open: set[Request] = set()
        self.port: Any = None
        self.url = ""

    def start(self) -> str:
        site = Site(self)
        site.noisy = False
        self.port = reactor.listenTCP(0, site, interface="127.0.0.1", backlog=1024)
        self.url = f"http://127.0.0.1:{self.port.getHost().port}/v1"
        return self.url

    async def stop(self) -> None:
        for request in list(self.open):
            transport: Any = request.channel.transport if request.channel else None
            if transport is not None:
                transport.abortConnection()
        if self.port is not None:
            await self.port.stopListening()

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        return json.dumps({"object": "list", "data": [{"id": "m1", "object": "model"}]}
                          ).encode()

    def render_POST(self, request: Request) -> Any:
        self.requests += 1
        assert request.content is not None
        body = json.loads(request.content.read() or b"{}")
        text = ""
        for message in body.get("messages") or ():
            if message.get("role") == "user":
                content = message.get("content")
                text = content if isinstance(content, str) else json.dumps(content)
        self.open.add(request)
        request.notifyFinish().addBoth(lambda _: self.open.discard(request))
        fault = re.search(r"(fault:\w+|slow:\d+)", text)
        kind = fault.group(1) if fault else ""
        once_key = f"{kind}:{text}"
        if kind in ("fault:429", "fault:500") and once_key not in self.faulted:
            self.faulted.add(once_key)
            request.setResponseCode(429 if kind == "fault:429" else 500)
            request.setHeader(b"content-type", b"application/json")
            if kind == "fault:429":
                request.setHeader(b"retry-after", b"1")
            return json.dumps({"error": {"message": f"scripted {kind}"}}).encode()
        request.setHeader(b"content-type", b"text/event-stream")
        if kind == "fault:garbage":
            request.write(b"data: this is not json\n\n: comment\n\nnonsense line\n\n")
            request.finish()
            return NOT_DONE_YET
        words = [f"echo: {text[:40]}"] + [f" w{i}" for i in range(self.chunks)]
        if kind in ("fault:reset", "fault:hang"):
            for word in words[:2]:
                request.write(_sse(_chunk("m1", {"content": word})))
            if kind == "fault:reset":
                channel: Any = request.channel
                reactor.callLater(0.05, channel.transport.abortConnection)
            return NOT_DONE_YET
        delay = int(kind.split(":")[1]) / 1000.0 if kind.startswith("slow:") else 0.0
        parts = [_sse(_chunk("m1", {"content": word})) for word in words]
        parts.append(_sse(_chunk("m1", {}, "stop")))
        parts.append(b"data: [DONE]\n\n")
        if delay <= 0:
            request.write(b"".join(parts))
            request.finish()
            return NOT_DONE_YET

        def send(index: int) -> None:
            if request.finished or request._disconnected:
                return
            if index < len(parts):
                request.write(parts[index])
                reactor.callLater(delay, send, index + 1)
            else:
                request.finish()

        send(0)
        return NOT_DONE_YET


# --------------------------------------------------------------------------- raw WebSocket


def ws_frame(payload: bytes, opcode: int = 1, *, fin: bool = True, mask: bool = True,
             rsv: int = 0) -> bytes:
    """One WebSocket frame as a client sends it (masked)."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + struct.pack(">H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack(">Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


class RawWs:
    """A blocking WebSocket client over a plain socket (for traffic Autobahn refuses to
    send); reads wait on the socket, with ``timeout`` as the hang detector."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def upgrade(self) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("closed during the upgrade")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise AssertionError(f"upgrade refused: {head[:200]!r}")

    def connect(self, scopes: list[str] | None = None) -> dict[str, Any]:
        """Upgrade, then the ``connect`` handshake with the token."""
        self.upgrade()
        self.read_frame()     # connect.challenge
        self.send_json({"type": "req", "id": "c1", "method": "connect", "params": {
            "minProtocol": 4, "maxProtocol": 4,
            "client": {"id": "cli", "version": "2026.9.6", "platform": "linux",
                       "mode": "cli"},
            "role": "operator", "scopes": scopes or ["operator.admin"], "caps": [],
            "auth": {"token": TOKEN}}})
        while True:
            opcode, payload = self.read_frame()
            if opcode == 1:
                frame = json.loads(payload)
                if frame.get("id") == "c1":
                    if not frame.get("ok"):
                        raise AssertionError(f"connect refused: {frame}")
                    return dict(frame)
            elif opcode == 8:
                raise AssertionError(f"closed during connect: {close_code(payload)}")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_json(self, value: Any) -> None:
        self.sock.sendall(ws_frame(json.dumps(value).encode()))

    def read_frame(self) -> tuple[int, bytes]:
        """``(opcode, payload)``; ``(-1, b"")`` when the server closed the TCP connection."""
        while True:
            parsed = _parse_frame(self.buffer)
            if parsed is not None:
                opcode, payload, used = parsed
                self.buffer = self.buffer[used:]
                return opcode, payload
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return -1, b""
            if not chunk:
                return -1, b""
            self.buffer += chunk

    def read_until_close(self) -> int | None:
        """Read (and discard) until a close frame (its code) or the TCP close (None)."""
        while True:
            opcode, payload = self.read_frame()
            if opcode == 8:
                return close_code(payload)
            if opcode == -1:
                return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _parse_frame(data: bytes) -> tuple[int, bytes, int] | None:
    if len(data) < 2:
        return None
    opcode = data[0] & 0x0F
    length = data[1] & 0x7F
    offset = 2
    if length == 126:
        if len(data) < 4:
            return None
        length = struct.unpack(">H", data[2:4])[0]
        offset = 4
    elif length == 127:
        if len(data) < 10:
            return None
        length = struct.unpack(">Q", data[2:10])[0]
        offset = 10
    if len(data) < offset + length:
        return None
    return opcode, data[offset:offset + length], offset + length


def close_code(payload: bytes) -> int | None:
    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None


def in_thread(func: Callable[..., Any], *args: Any) -> Deferred[Any]:
    return deferToThread(func, *args)


# --------------------------------------------------------------------------- a crowded upstream


class CrowdedUpstream:
    """A threaded ``http.server`` upstream with a listen backlog of 5 (as llama.cpp's server):
    a crowd of simultaneous new connections overflows its accept queue, which the kernel
    answers by black-holing some of them (our side established, the request never
    acknowledged). Answers every request at once with a short stream."""

    def __init__(self, backlog: int = 5) -> None:
        import http.server

        upstream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                with upstream.lock:
                    upstream.requests += 1
                parts = [_sse(_chunk("m1", {"content": word})) for word in ("crowded", " ok")]
                parts += [_sse(_chunk("m1", {}, "stop")), b"data: [DONE]\n\n"]
                body = b"".join(parts)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = backlog
            daemon_threads = True

        self.lock = threading.Lock()
        self.requests = 0
        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- runs over WebSocket


async def open_clients(port: int, count: int) -> list[WsClient]:
    clients = []
    for _ in range(count):
        client = WsClient(port)
        await client.open(scopes=["operator.admin", "operator.read", "operator.write"])
        clients.append(client)
    return clients


async def send_chats(clients: list[WsClient], items: list[tuple[str, str, str]],
                     timeout: float = 60.0) -> dict[str, dict[str, Any]]:
    """``chat.send`` every ``(sessionKey, message, runId)`` at once (spread over the clients);
    the response of each run id (``{}`` if none came: the connection died)."""
    from twisted.internet.defer import DeferredList

    waits = []
    for index, (key, message, run_id) in enumerate(items):
        client = clients[index % len(clients)]
        rid = client.send("chat.send", {"sessionKey": key, "message": message,
                                        "idempotencyKey": run_id})
        waits.append(client.response(rid, timeout=timeout))
    results = await DeferredList(waits, consumeErrors=True)
    return {run_id: (value if ok else {}) for (ok, value), (_, _, run_id)
            in zip(results, items, strict=True)}


async def chat_terminals(client: WsClient, run_ids: Iterable[str], timeout: float
                         ) -> dict[str, dict[str, Any] | None]:
    """The terminal ``chat`` event (final/error/aborted) of each run, None if none came."""
    from twisted.internet.defer import DeferredList

    ids = list(run_ids)
    results = await DeferredList([client.chat_terminal(run_id, timeout=timeout)
                                  for run_id in ids], consumeErrors=True)
    return {run_id: (value["payload"] if ok else None)
            for (ok, value), run_id in zip(results, ids, strict=True)}


def started(ack: Mapping[str, Any]) -> bool:
    return bool(ack.get("ok")) and (ack.get("payload") or {}).get("status") == "started"


def count_by(values: Iterable[Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[str(value)] = out.get(str(value), 0) + 1
    return out


DESCRIPTOR_ERRORS = ("Bad file descriptor", "[Errno 9]", "[Errno 22] Invalid argument")


def descriptor_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if any(e in line for e in DESCRIPTOR_ERRORS)]
