"""The `gateway run` options: one definition shared by `openclaw gateway` and `twistd openclaw`."""

from __future__ import annotations

from twisted.python import usage

from openclaw.gateway.startup import GatewayRunOptions


class GatewayOptions(usage.Options):
    synopsis = "[options]"
    longdesc = (
        "Run the OpenClaw gateway in the foreground: WebSocket control protocol, HTTP API "
        "and probes on one port (default 127.0.0.1:18789)."
    )

    optParameters = [
        ["port", None, None, "Port for WebSocket + HTTP (default: OPENCLAW_GATEWAY_PORT, "
         "gateway.port, 18789)."],
        ["bind", None, None, "Bind mode: loopback (default), lan, tailnet, auto, custom."],
        ["token", None, None, "Shared token clients must present (exported as "
         "OPENCLAW_GATEWAY_TOKEN)."],
        ["password", None, None, "Shared password for --auth password."],
        ["auth", None, None, "Auth mode: none, token, password, trusted-proxy."],
        ["profile", None, None, "Use the state dir ~/.openclaw-<name> (and its config)."],
    ]
    optFlags = [
        ["verbose", None, "Debug logging to the console."],
        ["force", None, "Stop whatever listens on the port before starting (SIGTERM, then "
         "SIGKILL after 2 s)."],
        ["allow-unconfigured", None, "Start even if gateway.mode is not local."],
        ["dev", None, "Dev profile: state under ~/.openclaw-dev, base port 19001."],
    ]

    def postOptions(self) -> None:
        self["run"] = GatewayRunOptions(
            port=self["port"],
            bind=self["bind"],
            token=self["token"],
            password=self["password"],
            auth=self["auth"],
            verbose=bool(self["verbose"]),
            force=bool(self["force"]),
            allow_unconfigured=bool(self["allow-unconfigured"]),
            profile=self["profile"],
            dev=bool(self["dev"]),
        )
