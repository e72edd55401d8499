"""Tool policy: which tools a run may see and call.

The real layering: the profile (``tools.profile`` or the agent's), then
``tools.allow``/``tools.deny``, then ``agents.entries.<id>.tools.allow``/``deny``, then the
run's ``toolsAllow``; each layer can only narrow, deny always wins, a non-empty allow list
blocks everything not listed, matching ignores case, ``*`` globs, ``group:*`` names expand.
``exec`` and ``process`` are further gated by ``tools.exec.security`` (``"deny"`` turns them
off; non-main sessions need ``"full"``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import attrs

from openclaw.config.schema import ToolsConfig

ALIASES: Final = {"bash": "exec", "apply-patch": "apply_patch"}
GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "group:fs": ("read", "write", "edit", "apply_patch"),
    "group:runtime": ("exec", "process", "code_execution"),
    "group:sessions": ("sessions", "sessions_list", "sessions_history", "sessions_search",
                       "sessions_send", "sessions_spawn", "sessions_yield", "subagents",
                       "session_status"),
    "group:memory": ("memory_search", "memory_get"),
    "group:web": ("web_search", "web_fetch", "x_search"),
    "group:ui": ("browser", "canvas"),
    "group:automation": ("automations", "gateway", "heartbeat_respond"),
    "group:messaging": ("message",),
    "group:nodes": ("nodes",),
    "group:agents": ("agents_list", "update_plan"),
    "group:media": ("image", "image_generate", "tts"),
    "group:openclaw": ("sessions", "sessions_list", "sessions_history", "sessions_send",
                       "session_status", "memory_search", "memory_get", "web_fetch",
                       "web_search", "message"),
}
PROFILES: Final[Mapping[str, tuple[str, ...] | None]] = {
    "minimal": ("session_status",),
    "coding": (*GROUPS["group:fs"], *GROUPS["group:runtime"], *GROUPS["group:sessions"],
               *GROUPS["group:memory"], *GROUPS["group:web"], "image"),
    "messaging": ("message", "sessions_list", "sessions_history", "sessions_send",
                  "session_status", "sessions"),
    "full": None,
}
RUNTIME_TOOLS: Final = frozenset({"exec", "process"})


def normalize_tool_name(name: str) -> str:
    lowered = name.strip().lower()
    return ALIASES.get(lowered, lowered)


def expand(names: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            continue
        normalized = normalize_tool_name(name)
        for item in GROUPS.get(normalized, (normalized,)):
            if item not in out:
                out.append(item)
    return tuple(out)


@attrs.frozen
class PolicyLayer:
    source: str
    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()

    def verdict(self, name: str) -> str | None:
        """None when allowed, else the reason."""
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.deny):
            return f"denied by {self.source} deny list"
        if self.allow is not None and not any(fnmatch.fnmatchcase(name, pattern)
                                              for pattern in self.allow):
            return f"not in the {self.source} allow list"
        return None


def _layer(source: str, tools: ToolsConfig | None) -> PolicyLayer | None:
    if tools is None:
        return None
    allow_list = expand(tools.allow) if tools.allow else None
    if allow_list is not None and tools.also_allow:
        allow_list = allow_list + expand(tools.also_allow)
    deny_list = expand(tools.deny) if tools.deny else ()
    if allow_list is None and not deny_list:
        return None
    return PolicyLayer(source, allow_list, deny_list)


@attrs.frozen
class ToolPolicy:
    layers: tuple[PolicyLayer, ...] = ()
    is_main: bool = True
    exec_security: str | None = None

    def check(self, name: str) -> str | None:
        """None when ``name`` may run, else why not."""
        tool = normalize_tool_name(name)
        for layer in self.layers:
            reason = layer.verdict(tool)
            if reason is not None:
                return reason
        if tool in RUNTIME_TOOLS:
            if self.exec_security == "deny":
                return 'tools.exec.security is "deny"'
            if not self.is_main and self.exec_security != "full":
                return ('exec and process are off in non-main sessions (set '
                        'tools.exec.security: "full" to allow them)')
        return None


def resolve_policy(tools_config: ToolsConfig | None, agent_tools: ToolsConfig | None,
                   *, is_main: bool, run_allow: Sequence[str] | None = None) -> ToolPolicy:
    tools_config = tools_config or ToolsConfig()
    layers: list[PolicyLayer] = []
    profile = (agent_tools.profile if agent_tools is not None else None) or tools_config.profile
    if profile and PROFILES.get(profile):
        allowed = tuple(PROFILES[profile] or ())
        also = (agent_tools.also_allow if agent_tools is not None else None) or \
            tools_config.also_allow
        if also:
            allowed += expand(also)
        layers.append(PolicyLayer(f"tools.profile={profile}", allowed))
    for source, section in (("tools", tools_config), ("agent tools", agent_tools)):
        layer = _layer(source, section)
        if layer is not None:
            layers.append(layer)
    if run_allow:
        layers.append(PolicyLayer("run toolsAllow", expand(run_allow)))
    security = tools_config.exec.security if tools_config.exec is not None else None
    return ToolPolicy(tuple(layers), is_main, security)
