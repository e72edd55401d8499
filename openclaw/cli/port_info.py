"""Who listens on a TCP port (``gateway status``'s ``port`` block, doctor's port checks)."""

from __future__ import annotations

import socket
from typing import Any

import attrs


@attrs.frozen
class Listener:
    pid: int | None
    address: str
    command: str | None = None
    command_line: str | None = None
    user: str | None = None
    ppid: int | None = None

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {"pid": self.pid}
        if self.command:
            value["command"] = self.command
        value["address"] = self.address
        if self.user:
            value["user"] = self.user
        if self.command_line:
            value["commandLine"] = self.command_line
        if self.ppid is not None:
            value["ppid"] = self.ppid
        return value

    @property
    def is_gateway(self) -> bool:
        return "openclaw" in f"{self.command_line or ''} {self.command or ''}".lower()

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid else "pid ?"
        if self.user:
            who += f" {self.user}"
        return f"{who}: {self.command_line or self.command or 'unknown'} ({self.address})"


def _format_address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def port_listeners(port: int) -> list[Listener] | None:
    """Every LISTEN socket on `port` with its process, or None when it cannot be known."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - declared dependency
        return None
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    listeners: list[Listener] = []
    seen: set[tuple[int | None, str]] = set()
    for conn in connections:
        if conn.status != psutil.CONN_LISTEN or not conn.laddr or conn.laddr.port != port:
            continue
        address = _format_address(conn.laddr.ip, port)
        if (conn.pid, address) in seen:
            continue
        seen.add((conn.pid, address))
        command = command_line = user = None
        ppid = None
        if conn.pid is not None:
            try:
                process = psutil.Process(conn.pid)
                command = process.name()[:15]
                command_line = " ".join(process.cmdline())[:300] or None
                user = process.username()
                ppid = process.ppid()
            except psutil.Error:
                pass
        listeners.append(Listener(conn.pid, address, command, command_line, user, ppid))
    listeners.sort(key=lambda item: (":" in item.address.split("]")[0], item.address))
    return listeners


def port_hints(listeners: list[Listener]) -> list[str]:
    """``buildPortHints``: why the port is busy and what to do."""
    if not listeners:
        return []
    hints = []
    gateways = [item for item in listeners if item.is_gateway]
    pids = {item.pid for item in listeners}
    if gateways and len(pids) > 1:
        hints.append("Gateway already running locally. Stop it (openclaw gateway stop) or use a "
                     "different port.")
    if len(gateways) < len(listeners):
        hints.append("Another process is listening on this port.")
    if len(pids) > 1:
        hints.append("Multiple listeners detected; ensure only one gateway/tunnel per port "
                     "unless intentionally running isolated profiles.")
    return hints


def inspect_port(port: int) -> dict[str, Any]:
    """The ``{port, status, listeners, hints}`` block (status busy/free/unknown)."""
    listeners = port_listeners(port)
    if listeners is None:
        status = "busy" if _connectable(port) else "unknown"
        return {"port": port, "status": status, "listeners": [], "hints": []}
    return {
        "port": port,
        "status": "busy" if listeners else "free",
        "listeners": [item.to_json() for item in listeners],
        "hints": port_hints(listeners),
    }


def _connectable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def port_diagnostics(block: dict[str, Any]) -> list[str]:
    """``formatPortDiagnostics`` lines for a busy port."""
    if block["status"] == "free":
        return [f"Port {block['port']} is free."]
    if block["status"] == "unknown":
        return [f"Port {block['port']} availability could not be determined."]
    lines = [f"Port {block['port']} is already in use."]
    for listener in block["listeners"]:
        who = f"pid {listener.get('pid')}" if listener.get("pid") else "pid ?"
        if listener.get("user"):
            who += f" {listener['user']}"
        what = listener.get("commandLine") or listener.get("command") or "unknown"
        lines.append(f"- {who}: {what} ({listener.get('address')})")
    lines.extend(f"- {hint}" for hint in block["hints"])
    return lines


def listening_addresses(block: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for listener in block.get("listeners", []):
        address = listener.get("address")
        if address and address not in seen:
            seen.append(address)
    return seen

