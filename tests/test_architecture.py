"""The package map's dependency rules (docs/architecture.md), checked on every import.

Every ``import``/``from ... import`` in ``openclaw/`` is read from the source (including the
ones inside functions and under ``TYPE_CHECKING``), so a lazy import cannot hide a wrong
dependency.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator

from twisted.trial.unittest import SynchronousTestCase

PACKAGE_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "openclaw")

# (importer prefix, forbidden prefix, why)
RULES: tuple[tuple[str, str, str], ...] = (
    ("openclaw.config", "openclaw.gateway", "config is the bottom layer"),
    ("openclaw.config", "openclaw.agents", "config is the bottom layer"),
    ("openclaw.config", "openclaw.providers", "config is the bottom layer"),
    ("openclaw.providers", "openclaw.gateway", "providers know no transport"),
    ("openclaw.providers", "openclaw.agents", "agents use providers, not the reverse"),
    ("openclaw.agents", "openclaw.gateway", "agents know no transport"),
    ("openclaw.agents", "openclaw.channels", "channels call agents, not the reverse"),
    ("openclaw.memory", "openclaw.gateway", "memory knows no transport"),
    ("openclaw.auth", "openclaw.gateway", "auth decisions are shared by WS and HTTP"),
    ("openclaw.channels", "openclaw.gateway", "channels know no transport of the gateway"),
    ("openclaw.gateway.protocol", "openclaw.gateway.methods",
     "the protocol dispatches to a registry it is given"),
    ("openclaw.gateway.protocol", "openclaw.gateway.http", "WS and HTTP are siblings"),
    ("openclaw.gateway.http", "openclaw.gateway.methods", "HTTP and the RPC methods are siblings"),
    ("openclaw.gateway.reload", "openclaw.gateway.service",
     "the reload machinery serves the tree; it does not build it"),
    ("openclaw.voiceclaw", "openclaw.gateway",
     "the voice endpoint is handed what it needs by the gateway's wiring"),
    ("openclaw.agents", "openclaw.voiceclaw", "voice sessions use agents, not the reverse"),
    ("openclaw.gateway.metrics", "openclaw.gateway.service",
     "the metrics observe the tree they are given; they do not build it"),
    ("openclaw.gateway.metrics", "openclaw.gateway.methods",
     "the metrics wrap the registry they are given"),
    ("openclaw.gateway.protocol", "openclaw.gateway.metrics",
     "the protocol is observed through its hooks; it does not know the metrics"),
    ("openclaw.gateway.http", "openclaw.gateway.metrics",
     "HTTP is observed through the Site's hook; it does not know the metrics"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.connect",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.connection",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.handshake",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.server",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.factory",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.context",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.dispatch",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.protocol.transport",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.connect",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.connection",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.handshake",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.server",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.factory",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.context",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.dispatch",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.status", "openclaw.gateway.protocol.transport",
     "devices and status use the wire's leaf modules, not its connections"),
    ("openclaw.gateway.devices", "openclaw.gateway.methods", "the methods use devices"),
    ("openclaw.gateway.status", "openclaw.gateway.methods", "the methods use status"),
)


def module_name(path: str) -> str:
    relative = os.path.relpath(path, os.path.dirname(PACKAGE_ROOT))[:-3]
    parts = relative.split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: str, module: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"


def all_imports() -> Iterator[tuple[str, str]]:
    for directory, _, files in os.walk(PACKAGE_ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                module = module_name(path)
                for imported in imports_of(path, module):
                    yield module, imported


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(edges: list[tuple[str, str]]) -> list[str]:
    found = []
    for importer, imported in edges:
        for source, target, why in RULES:
            if within(importer, source) and within(imported, target):
                found.append(f"{importer} imports {imported} ({why})")
    return sorted(set(found))


class ImportDirectionTests(SynchronousTestCase):
    def test_dependencies_run_one_way(self) -> None:
        edges = list(all_imports())
        self.assertGreater(len(edges), 500)
        self.assertEqual(violations(edges), [])

    def test_the_check_catches_a_wrong_import(self) -> None:
        self.assertEqual(
            violations([("openclaw.agents.runtime", "openclaw.gateway.protocol.context"),
                        ("openclaw.gateway.protocol.connection",
                         "openclaw.gateway.methods.chat"),
                        ("openclaw.gateway.methods.chat", "openclaw.agents.runtime")]),
            ["openclaw.agents.runtime imports openclaw.gateway.protocol.context (agents know "
             "no transport)",
             "openclaw.gateway.protocol.connection imports openclaw.gateway.methods.chat (the "
             "protocol dispatches to a registry it is given)"])
