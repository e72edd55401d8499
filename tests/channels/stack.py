"""A real gateway (``GatewayService``) in this process, wired to a scripted model upstream,
with its config file, state dir and the ``openclaw`` CLI run as a child process."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
import tempfile
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.utils import getProcessOutputAndValue

from openclaw.gateway.service import GatewayService
from openclaw.gateway.startup import GatewayRunOptions, prepare_gateway
from tests.support import REPO_ROOT, free_port, isolated_env
from tests.upstream import ScriptedUpstream

TOKEN = "channels-test-token-0123456789"


class GatewayStack:
    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="oc-channels-")
        self.env = isolated_env(self.base)
        self.env["PYTHONPATH"] = REPO_ROOT
        self.env["NO_COLOR"] = "1"
        self.config_path = self.env["OPENCLAW_CONFIG_PATH"]
        self.state_dir = self.env["OPENCLAW_STATE_DIR"]
        self.port = free_port()
        self.upstream = ScriptedUpstream(reactor)
        self.upstream.start()
        self.gateway: GatewayService | None = None
        self.config: dict[str, Any] = {}

    def base_config(self, channels: dict[str, Any], **extra: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "gateway": {"mode": "local", "port": self.port,
                        "auth": {"mode": "token", "token": TOKEN},
                        "reload": {"mode": "hybrid", "debounceMs": 50}},
            "models": {"providers": {"scripted": {
                "baseUrl": self.upstream.base_url, "apiKey": "sk-test",
                "api": "openai-completions",
                "models": [{"id": "m1", "name": "m1", "contextWindow": 8192}]}}},
            "agents": {"defaults": {"model": "scripted/m1",
                                    "workspace": os.path.join(self.base, "workspace"),
                                    "skipBootstrap": True}},
            "channels": channels,
        }
        config.update(extra)
        return config

    def write_config(self, config: dict[str, Any]) -> None:
        self.config = copy.deepcopy(config)
        os.makedirs(os.path.dirname(self.config_path), exist_ok=True)
        tmp = self.config_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(config, indent=2))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.config_path)

    def read_config(self) -> dict[str, Any]:
        with open(self.config_path, encoding="utf-8") as handle:
            loaded: dict[str, Any] = json.load(handle)
        return loaded

    async def start(self) -> GatewayService:
        plan = prepare_gateway(GatewayRunOptions(port=str(self.port)), self.env)
        gateway = GatewayService(plan, reactor, env=self.env, use_lock=False)
        gateway.privilegedStartService()
        gateway.startService()
        self.gateway = gateway
        return gateway

    async def stop(self) -> None:
        gateway, self.gateway = self.gateway, None
        if gateway is not None and gateway.running:
            await gateway.stopService()

    async def restart(self) -> GatewayService:
        await self.stop()
        return await self.start()

    async def close(self) -> None:
        await self.stop()
        await self.upstream.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    @property
    def channels(self) -> Any:
        assert self.gateway is not None
        return self.gateway.channels

    def account(self, channel: str, account_id: str = "default") -> Any:
        account = self.channels.account(channel, account_id)
        assert account is not None, f"{channel}:{account_id} is not running"
        return account

    def connected(self, channel: str, account_id: str = "default") -> Deferred[int]:
        waiter = self.account(channel, account_id).when_connected()
        waiter.addTimeout(30, reactor)
        return waiter

    async def call(self, method: str, params: Any = None,
                   scopes: tuple[str, ...] = ("operator.admin",)) -> Any:
        """One RPC over a real WebSocket (the CLI's client library, in a thread)."""
        from twisted.internet.threads import deferToThread

        from openclaw.client import call_gateway, cli_identity
        from openclaw.client.target import load_client_config, resolve_target

        def call() -> Any:
            target = resolve_target(self.env, load_client_config(self.env))
            return call_gateway(target, method, params if params is not None else {},
                                identity=cli_identity(scopes), timeout_ms=20_000)

        return await deferToThread(call)

    async def cli(self, *args: str, gateway: bool = True) -> tuple[int, str, str]:
        """``openclaw <args>`` as a child process against this gateway's config."""
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-m", "openclaw", *args], env=self.env, path=REPO_ROOT)
        return int(code), out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def file_hash(path: str) -> str:
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


async def config_applied(stack: GatewayStack) -> str:
    """Wait until the running gateway applied the config file as it is now."""
    assert stack.gateway is not None
    reload = stack.gateway.config.reload
    assert reload is not None
    waiting = reload.coordinator.expect(file_hash(stack.config_path), origin="test")
    waiting.addTimeout(20, reactor)
    outcome: str = await waiting
    return outcome
