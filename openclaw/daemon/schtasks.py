"""Windows: a Scheduled Task ``OpenClaw Gateway`` (``OpenClaw Gateway (<profile>)``).

The task runs ``<state>/gateway.cmd`` (CRLF; ``set "KEY=VALUE"`` lines, then the gateway
command) at logon with least privilege and restarts on failure. When Task Scheduler refuses
(access denied, time-out) the installer falls back, as the real one does, to a per-user
Startup-folder launcher ``%APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\<task>.cmd``
that starts the same script minimised.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping

from openclaw.daemon import names
from openclaw.daemon.base import (
    GatewayServiceManager,
    ServiceActionError,
    ServiceManagerUnavailable,
    ServiceRuntime,
    write_service_file,
)
from openclaw.daemon.runner import CommandRunner
from openclaw.daemon.spec import ServiceCommand, ServiceSpec

RUNNING_RESULT = "0x41301"
CMD_EXE = "C:\\Windows\\System32\\cmd.exe"


def _no_line_breaks(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} cannot contain CR or LF in Windows task scripts.")
    return value


def quote_cmd_arg(value: str) -> str:
    """Quote one word of a cmd.exe command line (``%`` doubled, ``!`` escaped)."""
    _no_line_breaks(value, "Command argument")
    if not value:
        return '""'
    escaped = value.replace('"', '\\"').replace("%", "%%").replace("!", "^!")
    return f'"{escaped}"' if re.search(r'[ \t"&|<>^()%!]', value) else escaped


def _escape_set_component(value: str) -> str:
    return value.replace("^", "^^").replace("!", "^!").replace("%", "%%").replace('"', '^"')


def render_set(key: str, value: str) -> str:
    _no_line_breaks(key, "Environment variable name")
    _no_line_breaks(value, "Environment variable value")
    return f'set "{_escape_set_component(key)}={_escape_set_component(value)}"'


def render_task_script(spec: ServiceSpec) -> str:
    """``gateway.cmd``: description, working dir, environment (PATH excluded), command."""
    lines = ["@echo off"]
    if spec.description.strip():
        lines.append(f"rem {_no_line_breaks(spec.description.strip(), 'Task description')}")
    if spec.working_directory:
        lines.append(f"cd /d {quote_cmd_arg(spec.working_directory)}")
    for key, value in spec.environment.items():
        if not value or key.upper() == "PATH":
            continue
        lines.append(render_set(key, value))
    lines.append(" ".join(quote_cmd_arg(a) for a in spec.program_arguments) + " < NUL")
    return "\r\n".join(lines) + "\r\n"


def render_startup_launcher(description: str, script_path: str) -> str:
    lines = ["@echo off"]
    if description.strip():
        lines.append(f"rem {description.strip()}")
    lines.append(f'start "" /min {quote_cmd_arg(CMD_EXE)} /d /c {quote_cmd_arg(script_path)}')
    return "\r\n".join(lines) + "\r\n"


def xml_escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def render_task_xml(description: str, launch_path: str, task_user: str | None = None) -> str:
    """Task Scheduler XML: logon trigger, least privilege, restart on failure, no time limit."""
    user_id = f"\n      <UserId>{xml_escape(task_user)}</UserId>" if task_user else ""
    principal = (f"\n      <UserId>{xml_escape(task_user)}</UserId>\n"
                 "      <LogonType>InteractiveToken</LogonType>" if task_user
                 else "\n      <GroupId>S-1-5-32-545</GroupId>")
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>{xml_escape(description)}</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>{user_id}
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">{principal}
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>false</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <IdleSettings>
      <StopOnIdleEnd>false</StopOnIdleEnd>
      <RestartOnIdle>false</RestartOnIdle>
    </IdleSettings>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>3</Count>
    </RestartOnFailure>
    <Priority>7</Priority>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{xml_escape(launch_path)}</Command>
    </Exec>
  </Actions>
</Task>"""


def task_user(env: Mapping[str, str]) -> str | None:
    user = env.get("USERNAME") or env.get("USER") or env.get("LOGNAME")
    if not user:
        return None
    if "\\" in user:
        return user
    domain = env.get("USERDOMAIN")
    if domain and domain.lower() != "workgroup":
        return f"{domain}\\{user}"
    return user


def _parse_set(line: str) -> tuple[str, str] | None:
    raw = line.strip()[4:].strip()
    if raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1]
    key, sep, value = raw.partition("=")
    if not sep or not key:
        return None

    def unescape(text: str) -> str:
        return (text.replace('^"', '"').replace("^!", "!").replace("^^", "^")
                .replace("%%", "%"))

    return unescape(key), unescape(value)


def command_from_script(text: str, source_path: str | None = None) -> ServiceCommand | None:
    working: str | None = None
    environment: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        lower = line.lower()
        if not line or lower.startswith(("@echo", "rem ")):
            continue
        if lower.startswith("set "):
            parsed = _parse_set(line)
            if parsed:
                environment[parsed[0]] = parsed[1]
            continue
        if lower.startswith("cd /d "):
            working = line[6:].strip().strip('"')
            continue
        line = re.sub(r"\s*<\s*NUL\s*$", "", line, flags=re.IGNORECASE)
        words = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', line)
        args = tuple((quoted or bare).replace('\\"', '"').replace("%%", "%").replace("^!", "!")
                     for quoted, bare in words)
        return ServiceCommand(args, working, environment, source_path)
    return None


class ScheduledTaskService(GatewayServiceManager):
    label = "Scheduled Task"
    loaded_text = "registered"
    not_loaded_text = "missing"
    kind = "schtasks"

    def __init__(self, env: dict[str, str], runner: CommandRunner, *, state_dir: str) -> None:
        super().__init__(env, runner)
        self.state_dir = state_dir

    @property
    def task_name(self) -> str:
        return names.windows_task_name(self.env)

    @property
    def service_name(self) -> str:
        return self.task_name

    @property
    def definition_path(self) -> str:
        override = (self.env.get("OPENCLAW_TASK_SCRIPT") or "").strip()
        if override:
            return override
        script = (self.env.get("OPENCLAW_TASK_SCRIPT_NAME") or "").strip() or "gateway.cmd"
        return os.path.join(self.state_dir, script)

    @property
    def startup_entry_path(self) -> str:
        app_data = (self.env.get("APPDATA") or "").strip()
        base = app_data or os.path.join(
            self.env.get("USERPROFILE") or self.env.get("HOME") or "", "AppData", "Roaming")
        safe = re.sub(r'[<>:"/\\|?*]', "_", self.task_name)
        return os.path.join(base, "Microsoft", "Windows", "Start Menu", "Programs", "Startup",
                            f"{safe}.cmd")

    def render(self, spec: ServiceSpec) -> str:
        return render_task_script(spec)

    def render_xml(self, spec: ServiceSpec) -> str:
        return render_task_xml(spec.description, self.definition_path, task_user(self.env))

    def read_command(self) -> ServiceCommand | None:
        try:
            with open(self.definition_path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return None
        return command_from_script(text, self.definition_path)

    def _schtasks(self, *args: str) -> tuple[bool, str]:
        result = self.run("schtasks", *args)
        if result.code == 127:
            raise ServiceManagerUnavailable(f"schtasks unavailable: {result.detail}")
        return result.ok, result.stdout if result.ok else result.detail

    def is_loaded(self) -> bool:
        ok, _ = self._schtasks("/Query", "/TN", self.task_name)
        return ok or os.path.exists(self.startup_entry_path)

    def read_runtime(self) -> ServiceRuntime:
        result = self.run("schtasks", "/Query", "/TN", self.task_name, "/V", "/FO", "LIST")
        if not result.ok:
            if os.path.exists(self.startup_entry_path):
                return ServiceRuntime(detail="Startup-folder login item installed.")
            return ServiceRuntime(status="unknown", detail=result.detail,
                                  missing_unit=result.code != 127)
        match = re.search(r"Last Run Result:\s*(\S+)", result.stdout)
        last = match.group(1) if match else None
        if last == RUNNING_RESULT:
            return ServiceRuntime(status="running", state="Running")
        detail = f"Task Last Run Result={last}; treating as not running." if last else None
        return ServiceRuntime(status="stopped", detail=detail)

    def install(self, spec: ServiceSpec, out: list[str]) -> None:
        write_service_file(self.definition_path, self.render(spec).encode("utf-8"))
        xml = self.render_xml(spec)
        with tempfile.TemporaryDirectory(prefix="openclaw-task-xml-") as tmp:
            xml_path = os.path.join(tmp, "task.xml")
            with open(xml_path, "wb") as f:
                f.write(b"\xff\xfe" + xml.encode("utf-16-le"))
            ok, detail = self._schtasks("/Create", "/F", "/TN", self.task_name, "/XML", xml_path)
        if not ok:
            if re.search(r"access is denied|timed out|produced no output", detail, re.I):
                write_service_file(self.startup_entry_path,
                                   render_startup_launcher(spec.description,
                                                           self.definition_path))
                out.append(f"Installed Startup-folder login item: {self.startup_entry_path}")
                return
            raise ServiceActionError(f"schtasks create failed: {detail}")
        self._schtasks("/Run", "/TN", self.task_name)
        out.append(f"Installed Scheduled Task: {self.task_name}")
        out.append(f"Task script: {self.definition_path}")

    def uninstall(self, out: list[str]) -> None:
        self._schtasks("/End", "/TN", self.task_name)
        ok, _ = self._schtasks("/Delete", "/F", "/TN", self.task_name)
        if ok:
            out.append(f"Removed Scheduled Task: {self.task_name}")
        for path in (self.startup_entry_path, self.definition_path):
            if os.path.exists(path):
                os.unlink(path)
                out.append(f"Removed task script: {path}")

    def start(self, out: list[str]) -> None:
        ok, detail = self._schtasks("/Run", "/TN", self.task_name)
        if not ok:
            raise ServiceActionError(f"schtasks run failed: {detail}")
        out.append(f"Started Scheduled Task: {self.task_name}")

    def stop(self, out: list[str], *, disable: bool = False) -> None:
        self._schtasks("/End", "/TN", self.task_name)
        if disable:
            self._schtasks("/Change", "/TN", self.task_name, "/DISABLE")
        out.append(f"Stopped Scheduled Task: {self.task_name}")

    def restart(self, out: list[str]) -> None:
        self._schtasks("/End", "/TN", self.task_name)
        self.start([])
        out.append(f"Restarted Scheduled Task: {self.task_name}")

    def start_hints(self) -> list[str]:
        return ["openclaw gateway install", "openclaw gateway start",
                f'schtasks /Run /TN "{self.task_name}"']

    def unsupported_detail(self) -> str:
        return "schtasks unavailable."
