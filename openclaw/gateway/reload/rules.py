"""What a config change needs: the reload rule table, the diff, and the plan.

The table is the real gateway's (openclaw 2026.9.6 ``config-reload-plan``), restricted to
the core rules (no plugin-declared prefixes): each changed dotted path is classified by the
**longest matching prefix** (most segments; fewer ``*`` wildcards first), ``path == prefix``
or ``path`` starting with ``prefix + "."``. Three outcomes:

* ``restart`` -- the gateway process must restart (listener, auth mode, TLS, ...);
* ``hot``     -- applied in place, possibly with actions (reload hooks, restart heartbeat);
* ``none``    -- the runtime snapshot is swapped; consumers read it lazily.

A path matching no rule restarts the gateway. Rotating ``gateway.auth.token`` /
``gateway.auth.password`` is hot when the effective auth mode (token or password) does not
change (sessions on the old secret are closed 4001 and must reconnect).

Pure: no Twisted, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

__all__ = [
    "RELOAD_RULES",
    "ReloadPlan",
    "Rule",
    "build_plan",
    "classify",
    "diff_config_paths",
    "matches_prefix",
]

AUTH_CREDENTIAL_PATHS: Final = ("gateway.auth.token", "gateway.auth.password")


@attrs.frozen
class Rule:
    prefix: str
    kind: str  # "hot" | "restart" | "none"
    actions: tuple[str, ...] = ()


def _rules(kind: str, prefixes: Iterable[str], actions: tuple[str, ...] = ()) -> list[Rule]:
    return [Rule(prefix, kind, actions) for prefix in prefixes]


_AGENT_ROSTER_ACTIONS: Final = ("restartHeartbeat", "reconcileSystemJobs", "refreshHooksPolicy",
                                "reloadInternalHooks")

_CORE: Final = [
    *_rules("none", ["gateway.remote", "gateway.reload"]),
    *_rules("restart", [*AUTH_CREDENTIAL_PATHS, "mcp.apps", "secrets.egressProxy",
                        "gateway.portals"]),
    *_rules("hot", [
        "gateway.http.endpoints", "gateway.http.securityHeaders.strictTransportSecurity",
        "gateway.tools", "gateway.cliAgents", "gateway.controlUi.enabled",
        "gateway.controlUi.environment", "gateway.controlUi.communityInvite",
        "gateway.controlUi.github", "gateway.controlUi.sessionObserver",
        "gateway.controlUi.embedSandbox", "gateway.controlUi.allowExternalEmbedUrls",
        "gateway.controlUi.automaticallyFetchFavicons",
        "gateway.controlUi.experimental.customPlugins", "gateway.controlUi.allowedOrigins",
        "gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback", "gateway.nodes.browser",
        "gateway.nodes.pairing", "gateway.nodes.commands", "gateway.nodes.pluginTools.enabled",
        "gateway.nodes.allowSkills", "gateway.push.apns.relay", "gateway.terminal",
        "gateway.auth.rateLimit", "gateway.roles", "gateway.trustedProxies",
        "gateway.allowRealIpFallback", "gateway.auth.allowTailscale",
        "gateway.auth.identityScopes", "gateway.auth.trustedProxy", "diagnostics.enabled",
        "discovery.mdns.mode", "mcp.apps.sandboxOrigin", "agents.defaults", "desktop.host",
        "cloudWorkers",
    ]),
    *_rules("hot", ["hooks.gmail"], ("restartGmailWatcher", "reloadHooks")),
    *_rules("hot", ["hooks.internal", "agents.defaults.workspace"], ("reloadInternalHooks",)),
    *_rules("hot", ["hooks"], ("reloadHooks",)),
    *_rules("hot", ["agents.defaults.heartbeat", "agents.defaults.models",
                    "agents.defaults.modelPolicy", "agents.defaults.model", "models",
                    "agent.heartbeat"], ("restartHeartbeat", "reconcileSystemJobs")),
    *_rules("hot", ["agents.entries", "agents.list"], _AGENT_ROSTER_ACTIONS),
    *_rules("hot", ["agents.entries.*.decisionModel"], (*_AGENT_ROSTER_ACTIONS, "reloadPlugins")),
    *_rules("hot", ["agents.defaults.sessionStore", "agents.ownership"], ("refreshHooksPolicy",)),
    *_rules("hot", ["skills.workshop.autonomous.mode"], ("reconcileSystemJobs",)),
    *_rules("hot", ["agents.defaults.decisionModel"], ("reloadPlugins",)),
    *_rules("hot", ["plugins.load", "plugins.installs"], ("reloadPlugins",)),
    *_rules("hot", ["cron"], ("restartCron",)),
    *_rules("hot", ["transcripts", "cloudWorkers.profiles"], ("reloadPlugins",)),
    *_rules("hot", ["mcp", "gateway.publicOrigin"], ("disposeMcpRuntimes",)),
    *_rules("hot", ["talk.provider", "talk.realtime.provider"], ("reloadPlugins",)),
    *_rules("hot", ["session.scope", "session.store"], ("refreshHooksPolicy",)),
    # upstream SHARED_CHANNEL_PREFIXES: hot when channel plugins run (ours always do)
    *_rules("hot", ["channels.defaults", "channels.modelByChannel", "messages.inbound",
                    "messages.ackReactionScope", "commands", "accessGroups"],
            ("reloadChannels",)),
]

_DEFAULTS: Final = [
    *_rules("none", ["meta", "identity", "wizard", "logging", "agents", "bindings", "audio",
                     "agent", "routing", "messages", "session", "talk", "skills", "secrets",
                     "tui", "ui", "$schema"]),
    *_rules("hot", ["tools", "approvals.exec", "approvals.plugin", "auth.order", "auth.profiles",
                    "broadcast", "memory.citations", "worktreeRoot", "worktreeAcceleration",
                    "security.audit.suppressions", "security.installPolicy",
                    "diagnostics.cacheTrace.enabled", "acp", "attachments.ttlHours",
                    "update.checkOnStart", "update.channel", "update.auto.enabled",
                    "telemetry.enabled", "telemetry.consentedAt"]),
    *_rules("hot", ["plugins"], ("reloadPlugins", "disposeMcpRuntimes")),
    *_rules("hot", ["channels"], ("reloadChannels",)),
    *_rules("restart", ["gateway", "discovery"]),
]


def _sort_key(rule: Rule) -> tuple[int, int]:
    segments = rule.prefix.split(".")
    return (-len(segments), sum(1 for s in segments if s == "*"))


# Stable sort: at equal specificity the core rules (listed first) win, as upstream.
RELOAD_RULES: Final[tuple[Rule, ...]] = tuple(sorted([*_CORE, *_DEFAULTS], key=_sort_key))


def matches_prefix(path: str, prefix: str) -> bool:
    if "*" in prefix:
        segments = path.split(".")
        wanted = prefix.split(".")
        return all(
            (index < len(segments) and bool(segments[index])) if part == "*"
            else index < len(segments) and segments[index] == part
            for index, part in enumerate(wanted)
        )
    return path == prefix or path.startswith(prefix + ".")


def classify(path: str, rules: Sequence[Rule] = RELOAD_RULES) -> Rule | None:
    """The rule deciding ``path`` (None = no rule: the gateway must restart)."""
    for rule in rules:
        if matches_prefix(path, rule.prefix):
            return rule
    return None


def _is_plain(value: Any) -> bool:
    return isinstance(value, Mapping)


def diff_config_paths(prev: Any, next_: Any, prefix: str = "") -> list[str]:
    """Dotted paths whose values differ (upstream ``diffConfigPaths``).

    Objects recurse over the union of keys (keys absent on both sides are skipped);
    arrays compare deeply and are reported at their own path; anything else that differs
    is reported at its path (``<root>`` for the root itself).
    """
    paths: list[str] = []
    _collect(prev, next_, prefix, paths)
    return paths


_ABSENT: Final = object()


def _collect(prev: Any, next_: Any, prefix: str, paths: list[str]) -> None:
    if prev is next_:
        return
    if _is_plain(prev) and _is_plain(next_):
        keys = list(prev)
        keys.extend(key for key in next_ if key not in prev)
        for key in keys:
            before = prev.get(key, _ABSENT)
            after = next_.get(key, _ABSENT)
            if before is _ABSENT and after is _ABSENT:
                continue
            _collect(before, after, f"{prefix}.{key}" if prefix else str(key), paths)
        return
    if prev is not _ABSENT and next_ is not _ABSENT and _same(prev, next_):
        return
    paths.append(prefix or "<root>")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if _is_plain(a) and _is_plain(b):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(type(a) is type(b) and a == b) or (
        isinstance(a, int | float) and isinstance(b, int | float) and a == b)


@attrs.frozen
class ReloadPlan:
    """What a set of changed paths requires (upstream ``buildGatewayReloadPlan``)."""

    changed_paths: tuple[str, ...]
    restart_gateway: bool = False
    restart_reasons: tuple[str, ...] = ()
    hot_reasons: tuple[str, ...] = ()
    noop_paths: tuple[str, ...] = ()
    actions: frozenset[str] = frozenset()

    @property
    def is_noop(self) -> bool:
        return not self.restart_gateway and not self.hot_reasons and not self.actions


def _auth_mode(document: Any) -> str | None:
    """The effective shared-secret mode a config asks for (None when ambiguous)."""
    gateway = document.get("gateway") if _is_plain(document) else None
    found = gateway.get("auth") if isinstance(gateway, Mapping) else None
    auth: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    mode = auth.get("mode")
    if isinstance(mode, str):
        return mode
    token, password = auth.get("token"), auth.get("password")
    if _is_plain(token) or _is_plain(password):
        return None  # refs without an explicit mode: rotation is not eligible for hot reload
    if isinstance(password, str) and password.strip() and not (
            isinstance(token, str) and token.strip()):
        return "password"
    return "token"


def can_hot_reload_credentials(prev: Any, next_: Any) -> bool:
    modes = (_auth_mode(prev), _auth_mode(next_))
    return modes[0] in ("token", "password") and modes[0] == modes[1]


def build_plan(changed_paths: Iterable[str], *, previous: Any = None, candidate: Any = None,
               rules: Sequence[Rule] = RELOAD_RULES) -> ReloadPlan:
    """Classify every changed path; ``previous``/``candidate`` are the parsed documents."""
    changed = tuple(changed_paths)
    restart: list[str] = []
    hot: list[str] = []
    noop: list[str] = []
    actions: set[str] = set()
    for path in changed:
        rule = classify(path, rules)
        kind = rule.kind if rule is not None else "restart"
        if kind == "restart" and not (
            rule is not None and rule.prefix in AUTH_CREDENTIAL_PATHS
            and can_hot_reload_credentials(previous, candidate)
        ):
            restart.append(path)
            continue
        if kind == "none":
            noop.append(path)
            continue
        hot.append(path)
        if rule is not None and rule.prefix in AUTH_CREDENTIAL_PATHS:
            actions.add("rotateAuth")
        elif rule is not None:
            actions.update(rule.actions)
    return ReloadPlan(
        changed_paths=changed,
        restart_gateway=bool(restart),
        restart_reasons=tuple(restart),
        hot_reasons=tuple(hot),
        noop_paths=tuple(noop),
        actions=frozenset(actions),
    )
