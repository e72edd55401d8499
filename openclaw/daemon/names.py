"""Native service identities: systemd unit, launchd label, Windows task, per profile.

* systemd (user): ``openclaw-gateway.service``, profile ``p``: ``openclaw-gateway-p.service``
  (override ``OPENCLAW_SYSTEMD_UNIT``);
* launchd: ``ai.openclaw.gateway``, ``ai.openclaw.p`` (``OPENCLAW_LAUNCHD_LABEL``);
* Windows: ``OpenClaw Gateway``, ``OpenClaw Gateway (p)`` (``OPENCLAW_WINDOWS_TASK_NAME``).
"""

from __future__ import annotations

from collections.abc import Mapping

SYSTEMD_BASE_NAME = "openclaw-gateway"
LAUNCHD_DEFAULT_LABEL = "ai.openclaw.gateway"
WINDOWS_TASK_BASE_NAME = "OpenClaw Gateway"
LEGACY_SYSTEMD_NAMES = ("clawdbot-gateway", "moltbot-gateway")
SERVICE_MARKER = "openclaw"
SERVICE_KIND = "gateway"


def normalize_profile(profile: str | None) -> str | None:
    """None for no profile and for ``default``; otherwise the trimmed name."""
    trimmed = (profile or "").strip()
    if not trimmed or trimmed.lower() == "default":
        return None
    return trimmed


def _override(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def systemd_service_name(profile: str | None) -> str:
    normalized = normalize_profile(profile)
    return f"{SYSTEMD_BASE_NAME}-{normalized}" if normalized else SYSTEMD_BASE_NAME


def systemd_unit_name(env: Mapping[str, str]) -> str:
    """``openclaw-gateway[-<profile>].service`` or ``$OPENCLAW_SYSTEMD_UNIT``."""
    override = _override(env, "OPENCLAW_SYSTEMD_UNIT")
    if override:
        return override if override.endswith(".service") else f"{override}.service"
    return f"{systemd_service_name(env.get('OPENCLAW_PROFILE'))}.service"


def launchd_label_for(profile: str | None) -> str:
    normalized = normalize_profile(profile)
    return f"ai.openclaw.{normalized}" if normalized else LAUNCHD_DEFAULT_LABEL


def launchd_label(env: Mapping[str, str]) -> str:
    return _override(env, "OPENCLAW_LAUNCHD_LABEL") or launchd_label_for(
        env.get("OPENCLAW_PROFILE"))


def windows_task_name_for(profile: str | None) -> str:
    normalized = normalize_profile(profile)
    return f"{WINDOWS_TASK_BASE_NAME} ({normalized})" if normalized else WINDOWS_TASK_BASE_NAME


def windows_task_name(env: Mapping[str, str]) -> str:
    return _override(env, "OPENCLAW_WINDOWS_TASK_NAME") or windows_task_name_for(
        env.get("OPENCLAW_PROFILE"))


def service_description(profile: str | None) -> str:
    normalized = normalize_profile(profile)
    return f"OpenClaw Gateway (profile: {normalized})" if normalized else "OpenClaw Gateway"
