"""The one test builder: the production gateway tree, wired the way production wires it.

In the spirit of Synapse's ``setup_test_homeserver``: a test states the config it wants (a
dict, as it would sit in ``openclaw.json``), and :class:`GatewayFixture` runs the real start-up
pipeline (``prepare_gateway``: paths, config load, auth, secrets) and builds the real
:class:`~openclaw.gateway.service.GatewayService` on the reactor it is given: the global
reactor for tests that talk over loopback sockets, a ``MemoryReactorClock`` for tests that
drive time themselves. Nothing is assembled by hand, so what the tests exercise is what
``openclaw gateway`` runs.

Test-only seams are the ones production exposes too: the listening port (0: any free one,
loopback only), the local-model install (absent unless a test asks for it), the state dir.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, cast

import attrs
from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred

from openclaw.gateway.startup import GatewayPlan, GatewayRunOptions, ListenAddress, prepare_gateway
from openclaw.providers.registry import LocalModelInstall

if TYPE_CHECKING:
    from openclaw.agents.runtime import AgentRuntime
    from openclaw.agents.store import SessionStore
    from openclaw.gateway.http import HttpApi
    from openclaw.gateway.protocol.context import GatewayContext
    from openclaw.gateway.service import GatewayService

TOKEN = "test-gateway-token-0123456789"
NO_LOCAL_MODEL = LocalModelInstall(python="/nonexistent", gguf=None, server_available=False)


def fixture_env(base_dir: str, **extra: str) -> dict[str, str]:
    """An environment whose home, state dir and config live under ``base_dir`` (no
    ``OPENCLAW_*`` variable of the caller's leaks in)."""
    home = os.path.join(os.path.abspath(base_dir), "home")
    state = os.path.join(home, ".openclaw")
    os.makedirs(state, exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OPENCLAW_", "CLAWDBOT_"))}
    env.update(HOME=home, OPENCLAW_HOME=home, OPENCLAW_STATE_DIR=state,
               OPENCLAW_CONFIG_PATH=os.path.join(state, "openclaw.json"),
               OPENCLAW_ALLOW_MULTI_GATEWAY="1")
    env.update(extra)
    return env


def with_defaults(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``config`` with what every test gateway needs: local mode and a known token."""
    document = json.loads(json.dumps(dict(config or {})))
    gateway = document.setdefault("gateway", {})
    gateway.setdefault("mode", "local")
    gateway.setdefault("auth", {"mode": "token", "token": TOKEN})
    return cast(dict[str, Any], document)


def fixture_plan(config: Mapping[str, Any] | None, env: MutableMapping[str, str], *,
              port: int = 0, options: GatewayRunOptions | None = None) -> GatewayPlan:
    """The real start-up plan of ``config`` written to ``env``'s config path, listening on
    127.0.0.1 only (``port`` 0: the kernel picks)."""
    path = env["OPENCLAW_CONFIG_PATH"]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(with_defaults(config), handle, indent=2)
    os.chmod(path, 0o600)
    plan = prepare_gateway(options or GatewayRunOptions(port="18789"), env)
    return attrs.evolve(plan, port=port, listen=(ListenAddress("127.0.0.1"),),
                        single_instance_lock=False)


class GatewayFixture:
    """``GatewayService`` from a config dict; ``await gateway.start()`` ... ``stop()``."""

    def __init__(self, config: Mapping[str, Any] | None = None, *, reactor: Any = None,
                 base_dir: str | None = None, env: Mapping[str, str] | None = None,
                 local_model: LocalModelInstall | None = NO_LOCAL_MODEL,
                 stop_timeout_s: float = 5.0) -> None:
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="oc-test-gw-")
        self._owns_dir = base_dir is None
        self.env = fixture_env(self.base_dir, **dict(env or {}))
        self.reactor = reactor if reactor is not None else global_reactor
        self.plan = fixture_plan(config, self.env)
        from openclaw.gateway.service import GatewayService

        self.service: GatewayService = GatewayService(
            self.plan, self.reactor, env=self.env, use_lock=False,
            stop_timeout_s=stop_timeout_s, local_model=local_model)
        self.started = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Deferred[GatewayFixture]:
        self.service.privilegedStartService()
        self.service.startService()
        self.started = True
        done: Deferred[GatewayFixture] = Deferred()
        done.callback(self)
        return done

    async def stop(self) -> None:
        if self.started:
            self.started = False
            await self.service.stopService()
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- what tests reach into --------------------------------------------------------------

    @property
    def port(self) -> int:
        ports = self.service.web.ports
        assert ports, "the gateway is not listening (start() it first)"
        return int(ports[0].getHost().port)  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def state_dir(self) -> str:
        return str(self.plan.paths.state_dir)

    @property
    def workspace(self) -> str:
        return str(self.plan.paths.default_workspace)

    @property
    def runtime(self) -> AgentRuntime:
        return self.service.agents.runtime

    @property
    def store(self) -> SessionStore:
        return self.service.store.store

    @property
    def api(self) -> HttpApi:
        return self.service.http_api

    @property
    def context(self) -> GatewayContext:
        return self.service.web.ws_factory.context

    def transcript(self, key: str = "agent:main:main", agent: str = "main"
                   ) -> list[dict[str, Any]]:
        """The records of a session's transcript file as they are on disk now."""
        from openclaw.agents.store import read_jsonl

        sessions = self.store.agent(agent)
        entry = sessions.get(key)
        assert entry is not None, f"no session {key}"
        return read_jsonl(sessions.transcript_path(entry))
