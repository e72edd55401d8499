"""Best-effort scan for *other* gateway-like services (``gateway status --deep``, doctor).

Finds, besides the current profile's own definition: other profiles' units/agents, system
units, legacy ``clawdbot-gateway`` units, and stale definitions whose program no longer exists.
Each finding carries the real CLI's ``{label, detail, scope}`` plus cleanup hints.
"""

from __future__ import annotations

import os
import plistlib
import shlex
from collections.abc import Sequence

import attrs

from openclaw.daemon.systemd import SYSTEM_UNIT_DIRS, command_from_unit

LEGACY_MARKERS = ("clawdbot", "moltbot", "moldbot")


@attrs.frozen
class FoundService:
    label: str
    detail: str
    scope: str  # user | system
    platform: str
    path: str
    legacy: bool = False
    stale: bool = False
    port: int | None = None

    def to_json(self) -> dict[str, str]:
        return {"label": self.label, "detail": self.detail, "scope": self.scope}

    def hints(self) -> list[str]:
        """Inspection and cleanup commands for this finding."""
        quoted = shlex.quote(self.label)
        if self.platform == "linux":
            manager = f"systemctl --{self.scope}"
            sudo = "sudo " if self.scope == "system" else ""
            hints = [f"{manager} status -- {quoted}", f"{manager} cat -- {quoted}"]
            if self.stale or self.legacy:
                hints.append(f"{sudo}{manager} disable --now -- {quoted} && {sudo}rm "
                             f"{shlex.quote(self.path)}")
            return hints
        if self.platform == "darwin":
            domain = "system" if self.scope == "system" else "gui/$UID"
            sudo = "sudo " if self.scope == "system" else ""
            return [f"{sudo}launchctl bootout {domain}/{quoted}",
                    f"{sudo}rm {shlex.quote(self.path)}"]
        return [f'schtasks /Delete /TN "{self.label}" /F']


def _looks_like_gateway(text: str) -> str | None:
    """``openclaw`` (our marker / an openclaw gateway command), a legacy name, or None."""
    lower = text.lower()
    if "openclaw_service_marker" in lower and "openclaw_service_kind" in lower and (
            "gateway" in lower):
        return "openclaw"
    for line in lower.splitlines():
        stripped = line.strip()
        if not stripped.startswith("execstart=") or " gateway" not in stripped:
            continue
        if "openclaw" in stripped:
            return "openclaw"
        for marker in LEGACY_MARKERS:
            if marker in stripped:
                return marker
    return None


def _program_missing(program: str) -> bool:
    return os.path.isabs(program) and not os.path.exists(program)


def scan_systemd_dir(directory: str, scope: str, *, skip_unit: str | None = None
                     ) -> list[FoundService]:
    found: list[FoundService] = []
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return found
    for entry in entries:
        if not entry.endswith(".service") or entry == skip_unit:
            continue
        path = os.path.join(directory, entry)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        marker = _looks_like_gateway(text)
        if marker is None and not entry.startswith(("openclaw-gateway", "clawdbot-gateway")):
            continue
        if marker is None and "gateway" not in text.lower():
            continue
        command = command_from_unit(text, path)
        stale = bool(command and command.program_arguments
                     and _program_missing(command.program_arguments[0]))
        legacy = (marker in LEGACY_MARKERS) or entry.startswith(LEGACY_MARKERS)
        detail = f"unit: {path}" + (" (stale: program missing)" if stale else "")
        found.append(FoundService(
            label=entry, detail=detail, scope=scope, platform="linux", path=path,
            legacy=legacy, stale=stale, port=command.port if command else None,
        ))
    return found


def scan_launchd_dir(directory: str, scope: str, *, skip_label: str | None = None
                     ) -> list[FoundService]:
    found: list[FoundService] = []
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return found
    for entry in entries:
        if not entry.endswith(".plist"):
            continue
        path = os.path.join(directory, entry)
        try:
            with open(path, "rb") as f:
                plist = plistlib.load(f)
        except (OSError, plistlib.InvalidFileException, ValueError):
            continue    # not a readable plist: not ours
        if not isinstance(plist, dict):
            continue
        label = str(plist.get("Label") or entry[: -len(".plist")])
        if label == skip_label:
            continue
        args = [a for a in plist.get("ProgramArguments") or [] if isinstance(a, str)]
        joined = " ".join(args).lower()
        legacy = any(m in label.lower() for m in LEGACY_MARKERS)
        if not (label.startswith("ai.openclaw.") or legacy or (
                "openclaw" in joined and "gateway" in joined)):
            continue
        stale = bool(args) and _program_missing(args[0])
        found.append(FoundService(
            label=label, detail=f"plist: {path}", scope=scope, platform="darwin", path=path,
            legacy=legacy, stale=stale,
        ))
    return found


def find_extra_services(
    platform: str,
    home: str,
    *,
    current_name: str | None,
    deep: bool,
    system_unit_dirs: Sequence[str] = SYSTEM_UNIT_DIRS,
) -> list[FoundService]:
    """Gateway-like services other than the current profile's own definition.

    User-scope locations are always scanned; system-scope ones only with `deep`.
    """
    found: list[FoundService] = []
    if platform == "linux":
        user_dir = os.path.join(home, ".config", "systemd", "user")
        found.extend(scan_systemd_dir(user_dir, "user", skip_unit=current_name))
        if deep:
            seen: set[str] = set()
            for directory in system_unit_dirs:
                real = os.path.realpath(directory)
                if real in seen:
                    continue
                seen.add(real)
                found.extend(scan_systemd_dir(directory, "system"))
    elif platform == "darwin":
        found.extend(scan_launchd_dir(os.path.join(home, "Library", "LaunchAgents"), "user",
                                      skip_label=current_name))
        if deep:
            for directory in ("/Library/LaunchAgents", "/Library/LaunchDaemons"):
                found.extend(scan_launchd_dir(directory, "system"))
    return found
