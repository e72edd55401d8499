"""Call the feature methods behind the Control UI (usage, cron, exec approvals, prefs, nodes)
on a gateway as an operator CLI client, and log every frame (same JSONL shape as capture.py).

    python probe.py --port 18999 --token anchor-token --frames probe.jsonl

The script is a scenario, not a test: it records what the gateway answers, including errors.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

T0 = time.monotonic()


class Client:
    def __init__(self, ws: Any, log: Any, conn: int) -> None:
        self.ws = ws
        self.log = log
        self.conn = conn
        self.pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.view = "probe"

    def write(self, direction: str, data: Any) -> None:
        rec = {"t": round(time.monotonic() - T0, 3), "conn": self.conn, "dir": direction,
               "view": self.view, "data": data}
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()

    async def reader(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            self.write("s2c", frame)
            if frame.get("type") == "res" and frame.get("id") in self.pending:
                self.pending.pop(frame["id"]).set_result(frame)
            elif frame.get("type") == "event":
                self.events.append(frame)

    async def call(self, method: str, params: Any = None, timeout: float = 60) -> dict[str, Any]:
        req_id = str(uuid.uuid4())
        frame: dict[str, Any] = {"type": "req", "id": req_id, "method": method}
        if params is not None:
            frame["params"] = params
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[req_id] = fut
        self.write("c2s", frame)
        await self.ws.send(json.dumps(frame))
        return await asyncio.wait_for(fut, timeout)


SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals",
          "operator.questions", "operator.pairing"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def device_block(key: Ed25519PrivateKey, nonce: str, token: str) -> dict[str, Any]:
    """The v2 device signature the stock UI sends.

    Signed text: ``v2|deviceId|clientId|mode|role|scopes,csv|signedAtMs|token|nonce``.
    """
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    device_id = hashlib.sha256(raw).hexdigest()
    signed_at = int(time.time() * 1000)
    payload = "|".join(["v2", device_id, "cli", "cli", "operator", ",".join(SCOPES),
                        str(signed_at), token, nonce])
    return {"id": device_id, "publicKey": b64url(raw),
            "signature": b64url(key.sign(payload.encode())), "signedAt": signed_at,
            "nonce": nonce}


async def open_client(port: int, token: str, log: Any, conn: int,
                      caps: list[str] | None = None) -> Client:
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/", max_size=None)
    client = Client(ws, log, conn)
    challenge = json.loads(await ws.recv())
    client.write("s2c", challenge)
    asyncio.get_running_loop().create_task(client.reader())
    hello = await client.call("connect", {
        "minProtocol": 4, "maxProtocol": 4,
        "client": {"id": "cli", "version": "2026.9.6", "platform": "linux", "mode": "cli"},
        "role": "operator", "scopes": SCOPES, "caps": caps or [], "auth": {"token": token},
        "device": device_block(Ed25519PrivateKey.generate(), challenge["payload"]["nonce"], token)})
    if not hello.get("ok"):
        raise SystemExit(f"connect failed: {hello}")
    return client


async def scenario(args: argparse.Namespace) -> None:
    log = Path(args.frames).open("w")  # noqa: ASYNC230, SIM115 - a log file kept for the run
    c = await open_client(args.port, args.token, log, 101)

    async def step(view: str, method: str, params: Any = None) -> dict[str, Any]:
        c.view = view
        res = await c.call(method, params)
        return res

    if args.only == "approvals":
        await approvals(args, c, step, log)
        return
    # unknown method / bad params: the error shapes the UI has to cope with
    await step("errors", "no.such.method", {})
    await step("errors", "chat.startup", {"bogus": 1})
    await step("errors", "sessions.describe", {"key": "agent:main:does-not-exist"})
    await step("errors", "node.describe", {"nodeId": "no-such-node"})

    # usage
    await step("usage", "usage.status", {})
    await step("usage", "usage.cost", {})
    await step("usage", "usage.cost", {"days": 7})
    await asyncio.sleep(3)
    await step("usage", "sessions.usage", {"startDate": "2026-11-07", "endDate": "2026-12-06",
                                            "mode": "utc", "limit": 100})
    await step("usage", "sessions.usage", {"key": "agent:main:main"})
    await step("usage", "sessions.usage.timeseries", {"key": "agent:main:main"})
    await step("usage", "sessions.usage.logs", {"key": "agent:main:main", "limit": 50})

    # users.prefs
    await step("prefs", "users.prefs.get", {})
    await step("prefs", "users.prefs.set", {"prefs": {"theme": "knot"}})
    await step("prefs", "users.prefs.set", {"key": "theme", "value": "knot"})
    await step("prefs", "users.prefs.get", {})

    # nodes / instances
    await step("nodes", "node.list", {})
    await step("nodes", "system.info", {})
    await step("nodes", "environments.list", {})
    await step("nodes", "diagnostics.lanes", {})

    # cron
    added = await step("cron", "cron.add", {
        "name": "probe-job", "schedule": {"kind": "every", "everyMs": 3600000},
        "sessionTarget": "isolated", "wakeMode": "now",
        "payload": {"kind": "agentTurn", "message": "cron says hello"}})
    job_id = ((added.get("payload") or {}).get("job") or added.get("payload") or {}).get("id")
    await step("cron", "cron.list", {"includeDisabled": True})
    await step("cron", "cron.status", {})
    if job_id:
        await step("cron", "cron.update", {"id": job_id, "patch": {"description": "probed"}})
        await step("cron", "cron.run", {"id": job_id, "mode": "force"})
        await asyncio.sleep(25)
        await step("cron", "cron.runs", {"id": job_id, "limit": 10})
        await step("cron", "cron.runs", {"scope": "all", "limit": 10})
        await step("cron", "cron.remove", {"id": job_id})
        await step("cron", "cron.list", {"includeDisabled": True})

    await approvals(args, c, step, log)


async def approvals(args: argparse.Namespace, c: Client, step: Any, log: Any) -> None:
    """exec approvals: the policy, then one request seen and denied by a second (UI-like) client."""
    reviewer = await open_client(args.port, args.token, log, 102, caps=["approvals", "tool-events"])
    reviewer.view = "approvals-reviewer"
    got = await step("approvals", "exec.approvals.get", {})
    base_hash = (got.get("payload") or {}).get("hash")
    file = dict((got.get("payload") or {}).get("file") or {})
    file["defaults"] = {"security": "allowlist", "ask": "on-miss"}
    await step("approvals", "exec.approvals.set", {"file": file, "baseHash": base_hash})
    await step("approvals", "exec.approvals.get", {})
    req_task = asyncio.get_running_loop().create_task(step("approvals", "exec.approval.request", {
        "command": "ls -la /tmp", "cwd": "/tmp", "host": "gateway", "agentId": "main",
        "sessionKey": "agent:main:main", "timeoutMs": 60000}))
    await asyncio.sleep(2)
    listed = await reviewer.call("exec.approval.list", {})
    pending = listed.get("payload") or []
    if pending:
        await reviewer.call("exec.approval.get", {"id": pending[0]["id"]})
        await reviewer.call("exec.approval.resolve", {"id": pending[0]["id"], "decision": "deny"})
    with contextlib.suppress(Exception):  # the answer is in the frame log anyway
        await asyncio.wait_for(req_task, 30)
    await step("approvals", "exec.approval.list", {})
    await reviewer.call("exec.approval.list", {})
    now = await step("approvals", "exec.approvals.get", {})
    now_hash = (now.get("payload") or {}).get("hash")
    await step("approvals", "exec.approvals.set", {"file": {**file, "defaults": {}},
                                                   "baseHash": now_hash})
    await asyncio.sleep(2)
    await reviewer.ws.close()
    await c.ws.close()
    await asyncio.sleep(0.5)
    log.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--frames", required=True)
    parser.add_argument("--only", default="")
    asyncio.run(scenario(parser.parse_args()))


if __name__ == "__main__":
    main()
