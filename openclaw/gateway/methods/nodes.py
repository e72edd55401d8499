"""Nodes, instances and the host: ``node.list``, ``node.describe``, ``environments.list``,
``system.info``, ``diagnostics.lanes``.

* **Nodes** are devices paired with role ``node`` (``openclaw-node``, companion apps) merged
  with their live connection: what the client declared at ``connect`` (``caps``, ``commands``,
  ``permissions``, ``pathEnv``), when it connected, whether it is connected now. Connected
  ``role: "node"`` clients without a paired device are listed too (``paired: false``).
* **Environments** are the places a session can run: the gateway host itself, plus connected
  nodes that declared they host sessions.
* **System info** describes the gateway host (``os``/``platform``/``psutil``; read in a
  thread: CPU model and disk usage come from the file system).
* **Lanes** are the agent runtime's run queues: one per session with work (a session runs one
  turn at a time, any number of sessions run side by side); ``dynamic`` sums them up.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from openclaw.agents.runtime import AgentRuntime
from openclaw.auth.scopes import READ, ROLE_NODE, WRITE, scope_satisfied
from openclaw.gateway.devices.store import DeviceStore
from openclaw.gateway.methods.upstream_schemas import params_schema
from openclaw.gateway.protocol.context import GatewayContext
from openclaw.gateway.protocol.dispatch import MethodCall, MethodSpec
from openclaw.gateway.protocol.errors import invalid_request, missing_scope
from openclaw.gateway.protocol.session import ClientSession
from openclaw.gateway.status import vitals

SESSION_HOST_CAP: Final = "session-host"
GATEWAY_ENVIRONMENT: Final = {
    "id": "gateway", "type": "local", "label": "Gateway local", "status": "available",
    "sessionHost": True, "trust": "persistent",
    "capabilities": ["agent.run", "sessions", "tools", "workspace"],
}


@attrs.define
class LiveNode:
    """What a connected node declared at ``connect``."""

    conn_id: str
    node_id: str
    client: Mapping[str, Any]
    caps: tuple[str, ...]
    commands: tuple[str, ...]
    permissions: Mapping[str, Any]
    path_env: str | None
    remote_ip: str | None
    connected_at_ms: int
    device_id: str | None


class NodeRegistry:
    """Node connections as they say hello (a ``hello_hooks`` entry of the context)."""

    def __init__(self, context: GatewayContext) -> None:
        self.context = context
        self.live: dict[str, LiveNode] = {}
        self.last_seen: dict[str, int] = {}

    def hello(self, session: ClientSession, params: Mapping[str, Any]) -> None:
        if session.role != ROLE_NODE:
            return
        client = session.client
        node_id = session.device_id or str(client.get("instanceId") or session.conn_id)
        self.live[session.conn_id] = LiveNode(
            conn_id=session.conn_id, node_id=node_id, client=dict(client),
            caps=tuple(session.caps), commands=tuple(params.get("commands") or ()),
            permissions=dict(params.get("permissions") or {}),
            path_env=params.get("pathEnv") if isinstance(params.get("pathEnv"), str) else None,
            remote_ip=session.client_ip, connected_at_ms=session.connected_at_ms,
            device_id=session.device_id)

    def connected(self) -> dict[str, LiveNode]:
        """Live nodes by node id (connections that closed are dropped here)."""
        open_ids = {r.conn_id for r in self.context.events.recipients()}
        now = self.context.now_ms()
        for conn_id in [c for c in self.live if c not in open_ids]:
            self.last_seen[self.live[conn_id].node_id] = now
            del self.live[conn_id]
        return {node.node_id: node for node in self.live.values()}

    def rows(self) -> list[dict[str, Any]]:
        """``node.list`` rows: connected first, then by name."""
        live = self.connected()
        store = self.context.device_store
        rows: dict[str, dict[str, Any]] = {}
        for record in store.list_paired():
            if ROLE_NODE not in DeviceStore.approved_roles(record):
                continue
            node_id = str(record.get("deviceId"))
            row: dict[str, Any] = {
                "nodeId": node_id, "paired": True, "connected": False,
                "approvalState": "approved", "caps": [], "commands": []}
            for source, target in (("displayName", "displayName"), ("platform", "platform"),
                                   ("clientId", "clientId"), ("clientMode", "clientMode"),
                                   ("deviceFamily", "deviceFamily"), ("remoteIp", "remoteIp"),
                                   ("approvedAtMs", "approvedAtMs"),
                                   ("lastSeenAtMs", "lastSeenAtMs"),
                                   ("lastSeenReason", "lastSeenReason")):
                if record.get(source) is not None:
                    row[target] = record[source]
            rows[node_id] = row
        for node_id, node in live.items():
            row = rows.setdefault(node_id, {"nodeId": node_id, "paired": False,
                                            "approvalState": "unapproved"})
            client = node.client
            row.update({"connected": True, "caps": list(node.caps),
                        "commands": list(node.commands), "connectedAtMs": node.connected_at_ms,
                        "lastConnectedAtMs": node.connected_at_ms})
            for name in ("displayName", "platform", "version", "deviceFamily",
                         "modelIdentifier"):
                if client.get(name):
                    row[name] = client[name]
            row["clientId"] = client.get("id")
            row["clientMode"] = client.get("mode")
            if node.remote_ip:
                row["remoteIp"] = node.remote_ip
            if node.permissions:
                row["permissions"] = dict(node.permissions)
            if node.path_env:
                row["pathEnv"] = node.path_env
            if SESSION_HOST_CAP in node.caps:
                row["sessionHost"] = True
        for node_id, row in rows.items():
            if not row.get("connected") and node_id in self.last_seen:
                row["lastDisconnectedAtMs"] = self.last_seen[node_id]
        return sorted(rows.values(), key=lambda r: (not r.get("connected"),
                                                    str(r.get("displayName") or r["nodeId"])))


def host_info(state_dir: str, port: int | None) -> dict[str, Any]:
    """``system.info`` of this host (blocking reads: run it in a thread)."""
    import time

    import psutil

    uname = platform.uname()
    memory = psutil.virtual_memory()
    process = psutil.Process()
    info: dict[str, Any] = {
        "machineName": socket.gethostname(),
        "hostname": socket.gethostname(),
        "platform": sys.platform,
        "release": uname.release,
        "arch": _arch(uname.machine),
        "osLabel": f"{uname.system} {uname.release}",
        "nodeVersion": f"python {platform.python_version()}",
        "pid": os.getpid(),
        "uptimeMs": int((time.time() - process.create_time()) * 1000),
        "cpuCount": os.cpu_count() or 1,
        "memoryTotalBytes": int(memory.total),
        "memoryFreeBytes": int(memory.available),
    }
    if port:
        info["port"] = int(port)
    model = _cpu_model()
    if model:
        info["cpuModel"] = model
    with contextlib.suppress(AttributeError, OSError):
        info["loadAverage"] = [round(v, 2) for v in os.getloadavg()]
    memory_info = vitals.process_memory()
    if memory_info:
        info["processMemory"] = memory_info
    try:
        usage = shutil.disk_usage(state_dir)
        info.update({"diskPath": state_dir, "diskTotalBytes": int(usage.total),
                     "diskAvailableBytes": int(usage.free),
                     "disks": [{"path": state_dir, "totalBytes": max(1, int(usage.total)),
                                "availableBytes": int(usage.free)}]})
    except OSError:
        pass
    info["defaultAgentUtilityModel"] = {"status": "unavailable"}
    return info


def _arch(machine: str) -> str:
    """Node's ``os.arch()`` names (``x64``, ``arm64``, ...)."""
    lowered = machine.lower()
    return {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "i686": "ia32",
            "i386": "ia32"}.get(lowered, lowered or "unknown")


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.partition(":")[2].strip() or None
    except OSError:
        pass
    return platform.processor() or None


def lanes(runtime: AgentRuntime, now_ms: int) -> dict[str, Any]:
    """``diagnostics.lanes``: the per-session run lanes with work, and their sum."""
    by_key: dict[str, dict[str, int]] = {}
    for handle in list(runtime.active.values()):
        counts = by_key.setdefault(handle.session_key, {"active": 0, "queued": 0})
        counts["active" if handle.state == "running" else "queued"] += 1
    rows = [{"lane": f"session:{key}", "queuedCount": counts["queued"],
             "activeCount": counts["active"], "maxConcurrent": 1, "draining": False,
             "generation": 0, "blockedBy": None} for key, counts in sorted(by_key.items())]
    return {"ts": now_ms, "lanes": rows, "dynamic": {
        "laneCount": len(rows),
        "activeCount": sum(r["activeCount"] for r in rows),
        "queuedCount": sum(r["queuedCount"] for r in rows),
        "queuedLaneCount": sum(1 for r in rows if r["queuedCount"])}}


def make_node_methods(context: GatewayContext, runtime: AgentRuntime | None,
                      port: Callable[[], int | None] = lambda: None
                      ) -> tuple[MethodSpec, ...]:
    """The nodes/host family; registers the node hello hook on ``context``."""
    registry = NodeRegistry(context)
    context.hello_hooks.append(registry.hello)

    def node_list(call: MethodCall) -> dict[str, Any]:
        return {"ts": context.now_ms(), "nodes": registry.rows()}

    def node_describe(call: MethodCall) -> dict[str, Any]:
        node_id = str(call.param_map["nodeId"]).strip()
        row = next((r for r in registry.rows() if r["nodeId"] == node_id), None)
        if row is None:
            raise invalid_request("unknown nodeId")
        return {"ts": context.now_ms(), **row}

    def environments(call: MethodCall) -> dict[str, Any]:
        params = call.param_map
        runtime_id = params.get("runtimeId")
        # A dynamic scope upstream: read, or write to address one runtime.
        if runtime_id is not None and not scope_satisfied(WRITE, call.session.scopes):
            raise missing_scope(WRITE, [WRITE])
        gateway = dict(GATEWAY_ENVIRONMENT)
        gateway["platform"] = sys.platform
        out = [gateway]
        for node in registry.connected().values():
            if SESSION_HOST_CAP not in node.caps:
                continue
            out.append({"id": f"node:{node.node_id}", "type": "node",
                        "label": str(node.client.get("displayName") or node.node_id),
                        "status": "available", "platform": str(node.client.get("platform")),
                        "sessionHost": True, "trust": "persistent",
                        "capabilities": ["agent.run", "sessions", "tools"]})
        if runtime_id is not None:
            out = [env for env in out if env["id"] == runtime_id]
        return {"environments": out}

    async def system_info(call: MethodCall) -> dict[str, Any]:
        info: dict[str, Any] = await context.run_blocking(host_info, str(context.state_dir),
                                                          port())
        info["processInstanceId"] = context.instance_id
        info["eventLoop"] = context.event_loop.snapshot()
        return info

    def diagnostics_lanes(call: MethodCall) -> dict[str, Any]:
        if runtime is None:
            return {"ts": context.now_ms(), "lanes": [], "dynamic": None}
        return lanes(runtime, context.now_ms())

    return (
        MethodSpec("node.list", node_list, READ, params_schema("node.list")),
        MethodSpec("node.describe", node_describe, READ, params_schema("node.describe")),
        MethodSpec("environments.list", environments, READ, params_schema("environments.list")),
        MethodSpec("system.info", system_info, READ, params_schema("system.info")),
        MethodSpec("diagnostics.lanes", diagnostics_lanes, READ),
    )

