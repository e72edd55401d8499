"""The service definitions shipped in ``packaging/``, rendered by the same code as ``install``.

``python -m openclaw.daemon.packaging [DIR]`` (default: ``packaging/`` of the checkout)
rewrites them; a test fails when the checked-in files drift from the renderers.
"""

from __future__ import annotations

import json
import os
import sys

from openclaw import __version__
from openclaw.daemon.launchd import render_plist
from openclaw.daemon.schtasks import render_startup_launcher, render_task_script, render_task_xml
from openclaw.daemon.spec import ServiceSpec
from openclaw.daemon.systemd import render_socket_unit, render_unit

PORT = 18789
MARKERS = {
    "OPENCLAW_SERVICE_MARKER": "openclaw",
    "OPENCLAW_SERVICE_KIND": "gateway",
    "OPENCLAW_SERVICE_VERSION": __version__,
}

LOGROTATE = """\
# logrotate(8) for the OpenClaw gateway's file logs (JSON lines, one file per day).
# The gateway already rotates by size (logging.maxFileBytes, archives .1.log..5.log) and
# prunes old days itself; use this only when you want logrotate to own retention.
# copytruncate: the gateway keeps its file open (O_APPEND); `openclaw logs --follow` sees the
# truncation as a rotation and starts over at the new beginning.
/var/lib/openclaw/.openclaw/logs/openclaw-*.log {
    daily
    rotate 7
    maxsize 100M
    missingok
    notifempty
    compress
    delaycompress
    copytruncate
    su openclaw openclaw
    create 0600 openclaw openclaw
}
"""

SAMPLE_CONFIG = {
    "gateway": {
        "mode": "local",
        "port": PORT,
        "bind": "loopback",
        "auth": {"mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}"},
        "reload": {"mode": "hybrid"},
    },
    "logging": {"level": "info", "maxFileBytes": 104857600},
    "agents": {"defaults": {"workspace": "~/.openclaw/workspace"}},
}


def _user_spec() -> ServiceSpec:
    return ServiceSpec(
        description="OpenClaw Gateway",
        program_arguments=("/usr/local/bin/openclaw", "gateway", "--port", str(PORT)),
        environment={"OPENCLAW_GATEWAY_PORT": str(PORT),
                     "OPENCLAW_SYSTEMD_UNIT": "openclaw-gateway.service", **MARKERS},
    )


def packaged_files() -> dict[str, str]:
    """Relative path -> content of every file under ``packaging/`` that is generated."""
    user = _user_spec()
    system = ServiceSpec(
        description="OpenClaw Gateway",
        program_arguments=user.program_arguments,
        environment={"HOME": "/var/lib/openclaw", "OPENCLAW_GATEWAY_PORT": str(PORT),
                     "OPENCLAW_SYSTEMD_UNIT": "openclaw-gateway.service", **MARKERS},
        working_directory="/var/lib/openclaw",
    )
    mac = ServiceSpec(
        description="OpenClaw Gateway",
        program_arguments=("/opt/homebrew/bin/openclaw", "gateway", "--port", str(PORT)),
        environment={"OPENCLAW_GATEWAY_PORT": str(PORT),
                     "OPENCLAW_LAUNCHD_LABEL": "ai.openclaw.gateway", **MARKERS},
        stdout_path="~/.openclaw/logs/gateway.log",
        stderr_path="~/.openclaw/logs/gateway.err.log",
    )
    windows = ServiceSpec(
        description="OpenClaw Gateway",
        program_arguments=("C:\\Program Files\\Python311\\python.exe", "-m", "openclaw",
                           "gateway", "--port", str(PORT)),
        environment={"OPENCLAW_GATEWAY_PORT": str(PORT),
                     "OPENCLAW_WINDOWS_TASK_NAME": "OpenClaw Gateway", **MARKERS},
    )
    script = "%USERPROFILE%\\.openclaw\\gateway.cmd"
    return {
        "systemd/openclaw-gateway.service": render_unit(user),
        "systemd/openclaw-gateway-system.service": render_unit(system, system_user="openclaw"),
        # Optional: enable it beside either service for socket activation (docs/operations.md).
        "systemd/openclaw-gateway.socket": render_socket_unit(
            ServiceSpec(description="OpenClaw Gateway", program_arguments=(),
                        listen_streams=(f"127.0.0.1:{PORT}",))),
        "launchd/ai.openclaw.gateway.plist": render_plist("ai.openclaw.gateway", mac),
        "windows/gateway.cmd": render_task_script(windows),
        "windows/OpenClaw Gateway.xml": render_task_xml("OpenClaw Gateway", script),
        "windows/OpenClaw Gateway (Startup).cmd": render_startup_launcher("OpenClaw Gateway",
                                                                          script),
        "logrotate/openclaw": LOGROTATE,
        "openclaw.json.sample": json.dumps(SAMPLE_CONFIG, indent=2) + "\n",
    }


def write_packaging(directory: str) -> list[str]:
    written = []
    for relative, content in packaged_files().items():
        path = os.path.join(directory, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(content)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    default = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "packaging")
    for path in write_packaging(args[0] if args else default):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
