"""macOS: a LaunchAgent ``ai.openclaw.gateway`` (``ai.openclaw.<profile>``).

The plist mirrors the real installer's (``RunAtLoad``, ``KeepAlive``, ``ExitTimeOut``,
``ThrottleInterval``, ``Umask``, stdout/stderr under ``<state>/logs``). Control goes through
``launchctl`` in the ``gui/$UID`` domain: ``bootstrap`` to load, ``kickstart -k`` to restart,
``bootout`` to stop (which does *not* persist: KeepAlive recovery stays armed for the next
boot), and ``stop --disable`` additionally runs ``launchctl disable`` so the agent stays down
until ``gateway start`` (which re-enables it).
"""

from __future__ import annotations

import os
import plistlib
import re
import time
from typing import Any

from openclaw.daemon import names
from openclaw.daemon.base import (
    GatewayServiceManager,
    ServiceActionError,
    ServiceManagerUnavailable,
    ServiceRuntime,
    write_service_file,
)
from openclaw.daemon.spec import ServiceCommand, ServiceSpec

LAUNCH_AGENT_POLICY: tuple[tuple[str, Any], ...] = (
    ("RunAtLoad", True),
    ("KeepAlive", True),
    ("ExitTimeOut", 20),
    ("ProcessType", "Interactive"),
    ("ThrottleInterval", 10),
    ("Umask", 63),
    ("StandardInPath", "/dev/null"),
)


def plist_escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def render_plist(label: str, spec: ServiceSpec) -> str:
    """The LaunchAgent plist for `spec` (pure; the real installer's layout)."""
    args = "".join(f"\n      <string>{plist_escape(arg)}</string>"
                   for arg in spec.program_arguments)
    comment = (f"\n    <key>Comment</key>\n    <string>{plist_escape(spec.description)}</string>"
               if spec.description.strip() else "")
    policy = []
    for key, value in LAUNCH_AGENT_POLICY:
        if isinstance(value, bool):
            rendered = f"<{'true' if value else 'false'}/>"
        elif isinstance(value, int):
            rendered = f"<integer>{value}</integer>"
        else:
            rendered = f"<string>{plist_escape(str(value))}</string>"
        policy.append(f"    <key>{key}</key>\n    {rendered}")
    working = (f"\n    <key>WorkingDirectory</key>\n    <string>"
               f"{plist_escape(spec.working_directory)}</string>"
               if spec.working_directory else "")
    env_entries = [(k, v) for k, v in spec.environment.items() if v.strip()]
    env_xml = ""
    if env_entries:
        env_xml = "\n    <key>EnvironmentVariables</key>\n    <dict>" + "".join(
            f"\n    <key>{plist_escape(k)}</key>\n    <string>{plist_escape(v.strip())}</string>"
            for k, v in env_entries) + "\n    </dict>"
    stdout_path = spec.stdout_path or "/dev/null"
    stderr_path = spec.stderr_path or "/dev/null"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
        '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0">\n  <dict>\n'
        f"    <key>Label</key>\n    <string>{plist_escape(label)}</string>{comment}\n"
        + "\n".join(policy)
        + f"\n    <key>ProgramArguments</key>\n    <array>{args}\n    </array>{working}\n"
        f"    <key>StandardOutPath</key>\n    <string>{plist_escape(stdout_path)}</string>\n"
        f"    <key>StandardErrorPath</key>\n    <string>{plist_escape(stderr_path)}</string>"
        f"{env_xml}\n  </dict>\n</plist>\n"
    )


def command_from_plist(data: bytes, source_path: str | None = None) -> ServiceCommand | None:
    try:
        plist = plistlib.loads(data)
    except Exception:  # plistlib raises several unrelated types for bad input
        return None
    if not isinstance(plist, dict):
        return None
    args = plist.get("ProgramArguments")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return None
    env = plist.get("EnvironmentVariables")
    environment = {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}
    working = plist.get("WorkingDirectory")
    return ServiceCommand(
        program_arguments=tuple(args),
        working_directory=working if isinstance(working, str) else None,
        environment=environment,
        source_path=source_path,
    )


class LaunchAgentService(GatewayServiceManager):
    label = "LaunchAgent"
    loaded_text = "loaded"
    not_loaded_text = "not loaded"
    kind = "launchd"

    @property
    def agent_label(self) -> str:
        return names.launchd_label(self.env)

    @property
    def service_name(self) -> str:
        return self.agent_label

    @property
    def definition_path(self) -> str:
        home = self.env.get("HOME") or os.path.expanduser("~")
        return os.path.join(home, "Library", "LaunchAgents", f"{self.agent_label}.plist")

    @property
    def domain(self) -> str:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        return f"gui/{uid}"

    @property
    def target(self) -> str:
        return f"{self.domain}/{self.agent_label}"

    def render(self, spec: ServiceSpec) -> str:
        return render_plist(self.agent_label, spec)

    def read_command(self) -> ServiceCommand | None:
        try:
            with open(self.definition_path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        return command_from_plist(data, self.definition_path)

    def _launchctl(self, *args: str, allow_fail: bool = False) -> str:
        result = self.run("launchctl", *args)
        if result.code == 127:
            raise ServiceManagerUnavailable(f"launchctl unavailable: {result.detail}")
        if not result.ok and not allow_fail:
            raise ServiceActionError(f"launchctl {' '.join(args)} failed: {result.detail}")
        return result.stdout

    def is_loaded(self) -> bool:
        result = self.run("launchctl", "print", self.target)
        if result.code == 127:
            raise ServiceManagerUnavailable(f"launchctl unavailable: {result.detail}")
        return result.ok

    def read_runtime(self) -> ServiceRuntime:
        result = self.run("launchctl", "print", self.target)
        if not result.ok:
            return ServiceRuntime(status="unknown" if result.code == 127 else "stopped",
                                  detail=result.detail, missing_unit=result.code != 127)
        state = re.search(r"^\s*state = (\S+)", result.stdout, re.M)
        pid = re.search(r"^\s*pid = (\d+)", result.stdout, re.M)
        last_exit = re.search(r"^\s*last exit code = (-?\d+)", result.stdout, re.M)
        running = state is not None and state.group(1) == "running"
        return ServiceRuntime(
            status="running" if running else "stopped",
            state=state.group(1) if state else None,
            pid=int(pid.group(1)) if pid else None,
            last_exit_status=int(last_exit.group(1)) if last_exit else None,
        )

    def install(self, spec: ServiceSpec, out: list[str]) -> None:
        for path in (spec.stdout_path, spec.stderr_path):
            if path:
                os.makedirs(os.path.dirname(path), exist_ok=True)
        write_service_file(self.definition_path, self.render(spec))
        self._launchctl("bootout", self.target, allow_fail=True)
        self._launchctl("enable", self.target, allow_fail=True)
        self._launchctl("bootstrap", self.domain, self.definition_path)
        out.append(f"Installed LaunchAgent: {self.definition_path}")

    def uninstall(self, out: list[str]) -> None:
        self._launchctl("bootout", self.target, allow_fail=True)
        path = self.definition_path
        if os.path.exists(path):
            home = self.env.get("HOME") or os.path.expanduser("~")
            trash = os.path.join(home, ".Trash")
            os.makedirs(trash, exist_ok=True)
            dest = os.path.join(trash, f"{self.agent_label}-{int(time.time())}.plist")
            os.replace(path, dest)
            out.append(f"Moved LaunchAgent to Trash: {dest}")

    def start(self, out: list[str]) -> None:
        self._launchctl("enable", self.target, allow_fail=True)
        if not self.is_loaded():
            self._launchctl("bootstrap", self.domain, self.definition_path)
        else:
            self._launchctl("kickstart", self.target)
        out.append(f"Started LaunchAgent: {self.target}")

    def stop(self, out: list[str], *, disable: bool = False) -> None:
        if disable:
            self._launchctl("disable", self.target)
        self._launchctl("bootout", self.target, allow_fail=True)
        out.append(f"Stopped LaunchAgent: {self.target}")

    def restart(self, out: list[str]) -> None:
        if self.is_loaded():
            self._launchctl("kickstart", "-k", self.target)
        else:
            self._launchctl("enable", self.target, allow_fail=True)
            self._launchctl("bootstrap", self.domain, self.definition_path)
        out.append(f"Restarted LaunchAgent: {self.target}")

    def start_hints(self) -> list[str]:
        return ["openclaw gateway install", "openclaw gateway start",
                f"launchctl bootstrap gui/$UID ~/Library/LaunchAgents/{self.agent_label}.plist"]

    def unsupported_detail(self) -> str:
        return "launchctl unavailable."
