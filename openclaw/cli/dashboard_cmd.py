"""``openclaw dashboard``: the Control UI URL with the gateway token, opened in a browser.

The URL is ``http(s)://127.0.0.1:<port><basePath>/#token=<token>``: the token rides in the
fragment, which browsers never send to a server or put in logs, and the Control UI reads it
once on load. The port and token are the ones every other command of the profile uses
(``--profile``/``$OPENCLAW_GATEWAY_PORT``/``gateway.port``/``gateway.auth.token``). The gateway
must answer ``/healthz``; otherwise the command says how to start it and exits 1.

* ``--no-open``: print only. Without it a browser is opened when one can be (a graphical
  session: ``$DISPLAY``/``$WAYLAND_DISPLAY`` on Linux, always on macOS/Windows); on a headless
  machine the SSH port-forward to use is printed instead.
* ``--json``: ``{ok, url, httpUrl, wsUrl, port, tokenIncluded, browserUrl}`` (the real CLI's
  keys; ``browserUrl`` is the URL to open, with the token).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Final
from urllib.parse import quote

from openclaw.cli.common import cli_error_json, write_json
from openclaw.cli.options import JSON, Command, Option, run_parse

PROBE_TIMEOUT_S: Final = 2.0

DASHBOARD = Command(
    usage="openclaw dashboard [options]",
    description="Open the Control UI with your current token",
    options=(JSON, Option("--no-open", "Print URL but do not launch a browser"),
             Option("--yes", "Start/install the gateway without prompting when needed")),
)


def base_path(document: Mapping[str, Any]) -> str:
    gateway = document.get("gateway") if isinstance(document.get("gateway"), Mapping) else {}
    control = gateway.get("controlUi") if isinstance(gateway, Mapping) else None
    raw = control.get("basePath") if isinstance(control, Mapping) else None
    if not isinstance(raw, str) or not raw.strip("/ "):
        return "/"
    return "/" + raw.strip("/ ") + "/"


def dashboard_links(env: Mapping[str, str]) -> dict[str, Any]:
    """URLs, port and credentials of this profile's gateway."""
    from openclaw.client.target import load_client_config, resolve_local_port, resolve_target

    config = load_client_config(env)
    port = resolve_local_port(env, config)[0]
    target = resolve_target(env, config, local_port=port)
    tls = config.tls_enabled
    path = base_path(config.document)
    http_url = f"{'https' if tls else 'http'}://127.0.0.1:{port}{path}"
    ws_url = f"{'wss' if tls else 'ws'}://127.0.0.1:{port}"
    token = target.token
    browser_url = f"{http_url}#token={quote(token, safe='')}" if token else http_url
    return {"url": browser_url, "httpUrl": http_url, "wsUrl": ws_url, "port": port,
            "tokenIncluded": bool(token), "browserUrl": browser_url,
            "probe": f"{'https' if tls else 'http'}://127.0.0.1:{port}/healthz"}


def gateway_answers(url: str) -> bool:
    import ssl
    import urllib.request

    context = ssl._create_unverified_context() if url.startswith("https") else None
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S, context=context) as reply:
            return 200 <= int(reply.status) < 300
    except (OSError, ValueError):
        return False


def browser_available(env: Mapping[str, str]) -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def open_browser(url: str) -> bool:
    import webbrowser

    try:
        return bool(webbrowser.open(url, new=2))
    except webbrowser.Error:
        return False


def dashboard_command(args: list[str], env: MutableMapping[str, str]) -> int:
    parsed = run_parse(DASHBOARD, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    json_mode = bool(values["json"])
    from openclaw.client.errors import GatewayClientError

    try:
        links = dashboard_links(env)
    except GatewayClientError as e:
        if json_mode:
            write_json(cli_error_json(e.text))
        else:
            sys.stderr.write(e.text + "\n")
        return 1
    probe = links.pop("probe")
    if not gateway_answers(probe):
        message = (f"Gateway not reachable at {links['wsUrl']}. Start it with `openclaw "
                   "gateway` (or `openclaw gateway start` for the installed service), then "
                   "run `openclaw dashboard` again.")
        if json_mode:
            write_json(cli_error_json(message))
        else:
            sys.stderr.write(message + "\n")
        return 1
    if json_mode:
        write_json({"ok": True, **links})
        return 0
    out = sys.stdout
    out.write(f"Dashboard URL: {links['httpUrl']}\n")
    if links["tokenIncluded"]:
        out.write(f"With your token (in the URL fragment, never sent to a server): "
                  f"{links['browserUrl']}\n")
    if values.get("open") is False:
        out.write("Browser launch disabled (--no-open). Use the URL above.\n")
        return 0
    if browser_available(env) and open_browser(links["browserUrl"]):
        out.write("Opened in your browser. Keep that tab to control OpenClaw.\n")
        return 0
    out.write(f"No browser here. From your machine: ssh -N -L {links['port']}:127.0.0.1:"
              f"{links['port']} <this-host>, then open the URL above.\n")
    return 0


__all__ = ["dashboard_command", "dashboard_links"]
