"""``localService``: a real child process started on demand, reused, stopped when idle.

The child is a small real OpenAI-compatible server (Python's ``http.server``) that answers
``/v1/models`` only after a start-up delay, like a model server loading weights.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from openclaw.providers.registry import ModelRef, ProviderCatalog
from openclaw.providers.router import ModelRouter
from openclaw.providers.types import AssistantTurn, ModelRequest, ProviderError
from tests.support import config_snapshot, free_port

SERVER = r'''
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
time.sleep(float(sys.argv[2]))
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        body = json.dumps({"object": "list", "data": [{"id": "tiny"}]}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        chunk = {"choices": [{"index": 0, "delta": {"content": "pong"}, "finish_reason": "stop"}]}
        body = ("data: " + json.dumps(chunk) + "\n\ndata: [DONE]\n\n").encode()
        self.send_response(200); self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
print("serving", flush=True)
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''


class LocalServiceTests(TestCase):
    timeout = 40

    def make(self, *, delay: float = 0.5, idle_stop_ms: int = 0, command: str | None = None,
             ready_timeout_ms: int = 20000) -> tuple[ModelRouter, int]:
        port = free_port()
        script = os.path.join(tempfile.mkdtemp(prefix="oc-ls-"), "server.py")
        with open(script, "w") as handle:
            handle.write(SERVER)
        config = config_snapshot({"models": {"providers": {"tiny": {
            "baseUrl": f"http://127.0.0.1:{port}/v1", "apiKey": "x",
            "models": [{"id": "tiny", "name": "tiny"}],
            "localService": {"command": command or sys.executable,
                             "args": [script, str(port), str(delay)],
                             "readyTimeoutMs": ready_timeout_ms, "idleStopMs": idle_stop_ms,
                             "env": {"SECRET_VALUE": "hunter2"}}}}}})
        router = ModelRouter(reactor, ProviderCatalog(lambda: config, env={}))
        self.addCleanup(lambda: Deferred.fromCoroutine(router.stop()))
        return router, port

    async def ask(self, router: ModelRouter) -> str:
        opened = await router.open(ModelRef("tiny", "tiny"), ModelRequest(
            model="tiny", system="", messages=[{"role": "user", "content": "ping"}]))
        try:
            text = ""
            async for event in opened.call:
                if isinstance(event, AssistantTurn):
                    text = event.text
            return text
        finally:
            opened.release()

    async def test_started_on_demand_reused_and_stopped_when_idle(self) -> None:
        router, _ = self.make(idle_stop_ms=300)
        self.assertEqual(await self.ask(router), "pong")
        service = router.local.services()[0]
        self.assertTrue(service.owned)
        self.assertEqual(service.starts, 1)
        pid = service.pid
        self.assertIsNotNone(pid)
        self.assertEqual(await self.ask(router), "pong")
        self.assertEqual(service.starts, 1)          # reused, not restarted
        await deferLater(reactor, 1.5, lambda: None)  # idle > idleStopMs
        self.assertIsNone(service.pid)
        self.assertFalse(service.ready)
        self.assertEqual(await self.ask(router), "pong")   # started again on demand
        self.assertEqual(service.starts, 2)

    async def test_concurrent_requests_start_one_server(self) -> None:
        router, _ = self.make(delay=0.8)
        results = await _gather([Deferred.fromCoroutine(self.ask(router)) for _ in range(3)])
        self.assertEqual(results, ["pong"] * 3)
        self.assertEqual(router.local.services()[0].starts, 1)

    async def test_child_that_dies_is_reported(self) -> None:
        router, _ = self.make(command="/bin/false")
        with self.assertRaises(ProviderError) as error:
            await self.ask(router)
        self.assertIn('local model service for provider "tiny" exited with code 1',
                      str(error.exception))
        self.assertNotIn("hunter2", str(error.exception))

    async def test_ready_timeout(self) -> None:
        router, _ = self.make(delay=30, ready_timeout_ms=600)
        with self.assertRaises(ProviderError) as error:
            await self.ask(router)
        self.assertIn("not ready", str(error.exception))
        self.assertEqual(error.exception.kind, "timeout")
        self.assertIsNone(router.local.services()[0].pid)   # the slow child was stopped


async def _gather(deferreds: list[Deferred[Any]]) -> list[Any]:
    return [await d for d in deferreds]
