"""The typed OpenClaw config: one declaration per key drives validation, defaults and schema.

Sections implemented here: ``gateway``, ``agents``, ``models``, ``memory``, ``logging``,
``env``, ``meta``, ``channels`` (irc, matrix; :mod:`openclaw.config.channels`), ``bindings``
and ``commands`` (plus the root ``$schema`` string).  Inside them every key of the real
2026.9 schema is accepted: the ones declared below are validated and typed, the others are kept
verbatim (``ConfigSnapshot.parsed``) and listed in ``ConfigSnapshot.unsupported``.  Every
other real top-level section (``hooks``, ``session``, ``tools``, ``secrets``, ...)
is kept verbatim in :attr:`OpenClawConfig.extra` for the issues that implement them.

``None`` means "not set" wherever the runtime's default depends on other settings (e.g.
``gateway.port``: ``--port`` and ``$OPENCLAW_GATEWAY_PORT`` take precedence, then 18789).
"""

# ruff: noqa: RUF009  -- setting() returns an attrs field, not a dataclass default value

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from openclaw.config.channels import AllowList, BindingConfig, ChannelsConfig
from openclaw.config.fields import (
    INVALID,
    Bool,
    ConfigObject,
    ConversionContext,
    Enum,
    Int,
    ListOf,
    MapOf,
    Num,
    OneOf,
    Path,
    Section,
    Str,
    Transformed,
    section_json_schema,
    setting,
)
from openclaw.config.frozen import FrozenDict
from openclaw.config.ids import DEFAULT_AGENT_ID, normalize_agent_id
from openclaw.validation import MISSING, Context
from openclaw.validation.messages import unrecognized_keys

__all__ = [
    "DEFAULT_AGENT_ID",
    "MODEL_APIS",
    "REDACTED_SENTINEL",
    "AgentDefaultsConfig",
    "AgentEntryConfig",
    "AgentIdentityConfig",
    "AgentMemoryConfig",
    "AgentsConfig",
    "AuthRateLimitConfig",
    "ChatCompletionsEndpointConfig",
    "ControlUiConfig",
    "ControlUiEnvironmentConfig",
    "DiagnosticsConfig",
    "EnvConfig",
    "GatewayAuthConfig",
    "GatewayConfig",
    "GatewayHttpConfig",
    "HttpEndpointsConfig",
    "LocalServiceConfig",
    "LoggingConfig",
    "MemoryConfig",
    "MemoryExtraPath",
    "MemorySearchConfig",
    "MemorySearchQueryConfig",
    "MemorySearchRemoteConfig",
    "MetaConfig",
    "ModelCompatConfig",
    "ModelCostConfig",
    "ModelDefinitionConfig",
    "ModelProviderConfig",
    "ModelSelection",
    "ModelsConfig",
    "OpenClawConfig",
    "ReloadConfig",
    "ResponsesEndpointConfig",
    "SecretInput",
    "SecretRef",
    "ShellEnvConfig",
    "TalkConfig",
    "TalkRealtimeConfig",
    "TalkRealtimeProviderConfig",
    "TrustedProxyConfig",
    "config_json_schema",
    "normalize_agent_id",
]

REDACTED_SENTINEL = "__OPENCLAW_REDACTED__"
"""The real gateway's placeholder for redacted secrets (``config.get``); never a valid secret."""

AGENT_ID_PATTERN = r"^[a-z0-9_][a-z0-9_-]{0,63}$"
LOG_LEVELS = ("silent", "fatal", "error", "warn", "info", "debug", "trace")
MODEL_APIS = (
    "openai-completions",
    "openai-responses",
    "openai-chatgpt-responses",
    "anthropic-messages",
    "google-generative-ai",
    "google-vertex",
    "github-copilot",
    "bedrock-converse-stream",
    "ollama",
    "pi-messages",
    "azure-openai-responses",
)


# --------------------------------------------------------------------------- secrets


SECRET_SOURCES = ("env", "file", "exec", "store")
_PROVIDER_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
_ENV_ID_PATTERN = r"^[A-Z][A-Z0-9_]{0,127}$"
_EXEC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$"
_PROVIDER_MESSAGE = (
    'Secret reference provider must match /^[a-z][a-z0-9_-]{0,63}$/ (example: "default").'
)
_ID_MESSAGES = {
    "env": (
        'Env secret reference id must match /^[A-Z][A-Z0-9_]{0,127}$/ (example: "OPENAI_API_KEY").'
    ),
    "store": (
        "Store secret reference id must match /^[A-Z][A-Z0-9_]{0,127}$/ "
        '(example: "OPENAI_API_KEY").'
    ),
    "file": (
        "File secret reference id must be an absolute JSON pointer "
        '(example: "/providers/openai/apiKey"), or "value" for singleValue mode.'
    ),
    "exec": (
        "Exec secret reference id must match /^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,255}$/ "
        'and must not include "." or ".." path segments '
        '(example: "vault/openai/api-key" or "aws/secret#json_key").'
    ),
}


def _valid_file_ref_id(value: str) -> bool:
    if value == "value":
        return True
    if not value.startswith("/"):
        return False
    return all(
        "~" not in segment.replace("~0", "").replace("~1", "") for segment in value[1:].split("/")
    )


def _valid_exec_ref_id(value: str) -> bool:
    if not re.match(_EXEC_ID_PATTERN, value):
        return False
    return all(segment not in (".", "..") for segment in value.split("/"))


def _valid_ref_id(source: str, value: str) -> bool:
    if source in ("env", "store"):
        return bool(re.match(_ENV_ID_PATTERN, value))
    if source == "file":
        return _valid_file_ref_id(value)
    return _valid_exec_ref_id(value)


@attrs.frozen(repr=False)
class SecretRef(ConfigObject):
    """A reference to a secret resolved at activation: ``{source, provider, id}``.

    ``source`` is ``env`` (id = variable name), ``file`` (id = JSON pointer or ``"value"``),
    ``exec`` (id passed to a resolver command) or ``store`` (OpenClaw's secret store).
    """

    source: str
    provider: str
    id: str

    def key(self) -> str:
        """Stable identity ``source:provider:id`` (cache key of the secrets runtime)."""
        return f"{self.source}:{self.provider}:{self.id}"


@attrs.frozen(repr=False)
class _SecretRefSpec(ConfigObject):
    """Validates a SecretRef object exactly like the real ``SecretRefSchema``."""

    def convert(self, value: Any, path: Path, ctx: Context) -> Any:
        if not isinstance(value, Mapping):
            return ctx.invalid_type(path, "object", value)
        source = value.get("source")
        if source not in SECRET_SOURCES:
            ctx.add(path, "Invalid input", hard=True)
            return INVALID
        ok = True
        for key in ("provider", "id"):
            if not isinstance(value.get(key), str):
                ctx.invalid_type((*path, key), "string", value.get(key, MISSING))
                ok = False
        if not ok:
            return INVALID
        unknown = [key for key in value if key not in ("source", "provider", "id")]
        if not re.match(_PROVIDER_PATTERN, value["provider"]):
            ctx.add((*path, "provider"), _PROVIDER_MESSAGE)
            ok = False
        if not _valid_ref_id(source, value["id"]):
            ctx.add((*path, "id"), _ID_MESSAGES[source])
            ok = False
        if unknown:
            ctx.add(path, unrecognized_keys(unknown, quote=json.dumps))
            ok = False
        if not ok:
            return INVALID
        return SecretRef(source=source, provider=value["provider"], id=value["id"])

    def json_schema(self, schema_path: tuple[str, ...]) -> dict[str, Any]:
        branches = []
        for source in SECRET_SOURCES:
            id_schema: dict[str, Any] = {"type": "string"}
            if source in ("env", "store"):
                id_schema["pattern"] = _ENV_ID_PATTERN
            elif source == "exec":
                id_schema["pattern"] = _EXEC_ID_PATTERN
            branches.append(
                {
                    "type": "object",
                    "properties": {
                        "source": {"type": "string", "const": source},
                        "provider": {"type": "string", "pattern": _PROVIDER_PATTERN},
                        "id": id_schema,
                    },
                    "required": ["source", "provider", "id"],
                    "additionalProperties": False,
                }
            )
        return {"oneOf": branches}


def _not_redaction_sentinel(value: str) -> str | None:
    if value.strip() == REDACTED_SENTINEL:
        return (
            f'"{REDACTED_SENTINEL}" is the redaction placeholder shown by config.get, '
            "not a secret; restore the real value"
        )
    return None


SecretInput = OneOf(Str(check=_not_redaction_sentinel), _SecretRefSpec())
"""A secret given inline (string, ``${VAR}`` allowed) or as a :class:`SecretRef`."""


# --------------------------------------------------------------------------- gateway


def _ipv4(value: str) -> str | None:
    try:
        ipaddress.IPv4Address(value.strip())
    except ValueError:
        return "Invalid IPv4 address (use an address such as 192.168.1.10)"
    return None


@attrs.frozen(repr=False)
class AuthRateLimitConfig(ConfigObject):
    """Failed-auth rate limiting (per client IP and auth scope)."""

    max_attempts: int | float = setting(
        "maxAttempts", Num(), default=10, description="Failed attempts per window before lockout."
    )
    window_ms: int | float = setting(
        "windowMs", Num(), default=60000, description="Sliding window length in milliseconds."
    )
    lockout_ms: int | float = setting(
        "lockoutMs", Num(), default=300000, description="Lockout length in milliseconds."
    )
    exempt_loopback: bool = setting(
        "exemptLoopback",
        Bool(),
        default=True,
        description="Exempt loopback clients (browser-origin attempts are always limited).",
    )


@attrs.frozen(repr=False)
class TrustedProxyConfig(ConfigObject):
    """Identity-aware reverse proxy settings for ``gateway.auth.mode: "trusted-proxy"``."""

    user_header: str = setting(
        "userHeader",
        Str(min_length=1, min_length_message="userHeader is required for trusted-proxy mode"),
        description="Header carrying the authenticated user (e.g. x-forwarded-user).",
    )
    required_headers: tuple[str, ...] = setting(
        "requiredHeaders",
        ListOf(Str()),
        default=(),
        description="Headers that must be present for a request to be trusted.",
    )
    allow_users: tuple[str, ...] = setting(
        "allowUsers",
        ListOf(Str()),
        default=(),
        description="Allowed user identities; empty allows every proxy-authenticated user.",
    )
    allow_loopback: bool = setting(
        "allowLoopback",
        Bool(),
        default=False,
        description="Accept loopback proxy sources (same-host reverse proxy).",
    )


@attrs.frozen(repr=False)
class GatewayAuthConfig(ConfigObject):
    """How clients authenticate to the gateway (WS connect and HTTP APIs)."""

    mode: str | None = setting(
        "mode",
        Enum("none", "token", "password", "trusted-proxy"),
        default=None,
        description='Auth mode; unset = "password" if a password is configured, else "token".',
    )
    token: str | SecretRef | None = setting(
        "token",
        SecretInput,
        default=None,
        description="Shared token (string or SecretRef); env OPENCLAW_GATEWAY_TOKEN.",
    )
    password: str | SecretRef | None = setting(
        "password",
        SecretInput,
        default=None,
        description="Shared password (string or SecretRef); env OPENCLAW_GATEWAY_PASSWORD.",
    )
    allow_tailscale: bool | None = setting(
        "allowTailscale",
        Bool(),
        default=None,
        description="Accept Tailscale Serve identity headers; unset = on in serve mode.",
    )
    rate_limit: AuthRateLimitConfig = setting(
        "rateLimit",
        Section(AuthRateLimitConfig),
        factory=AuthRateLimitConfig,
        description="Failed-auth rate limiting.",
    )
    trusted_proxy: TrustedProxyConfig | None = setting(
        "trustedProxy",
        Section(TrustedProxyConfig),
        default=None,
        description='Settings for mode "trusted-proxy".',
    )


@attrs.frozen(repr=False)
class ReloadConfig(ConfigObject):
    """How edits of the config file are applied while the gateway runs."""

    mode: str = setting(
        "mode",
        Enum("off", "hot", "restart", "hybrid"),
        default="hybrid",
        description=(
            "off: ignore edits; hot: apply hot-safe changes only; restart: restart on any "
            "change; hybrid: hot-apply when safe, else restart."
        ),
    )
    debounce_ms: int = setting(
        "debounceMs",
        Int(minimum=0),
        default=300,
        description="Quiet period after the last file event before reloading (ms).",
    )


@attrs.frozen(repr=False)
class ControlUiEnvironmentConfig(ConfigObject):
    """``gateway.controlUi.environment``: a label (and colour) naming this deployment."""

    label: str = setting("label", Str(min_length=1, max_length=24),
                         description="Environment label (1-24 characters).")
    color: str = setting(
        "color",
        Enum("teal", "amber", "purple", "coral", "pink", "blue", "green", "red", "gray"),
        description="Label colour.")


@attrs.frozen(repr=False)
class ControlUiConfig(ConfigObject):
    """The browser Control UI served by the gateway."""

    enabled: bool = setting("enabled", Bool(), default=True, description="Serve the Control UI.")
    base_path: str = setting(
        "basePath",
        Str(),
        default="",
        description='URL prefix of the Control UI (e.g. "/openclaw"); "" serves it at /.',
    )
    root: str | None = setting(
        "root", Str(), default=None, description="Directory of UI assets; unset = bundled."
    )
    allowed_origins: tuple[str, ...] = setting(
        "allowedOrigins",
        ListOf(Str()),
        default=(),
        description="Browser origins allowed to open WebSocket connections.",
    )
    dangerously_disable_device_auth: bool = setting(
        "dangerouslyDisableDeviceAuth",
        Bool(),
        default=False,
        description="DANGEROUS: skip browser device identity checks.",
    )
    dangerously_allow_host_header_origin_fallback: bool = setting(
        "dangerouslyAllowHostHeaderOriginFallback",
        Bool(),
        default=False,
        description="DANGEROUS: accept origins matching the Host header.",
    )
    embed_sandbox: str = setting(
        "embedSandbox",
        Enum("strict", "scripts", "trusted"),
        default="scripts",
        description='Iframe sandbox of hosted embeds: "strict", "scripts" or "trusted".',
    )
    allow_external_embed_urls: bool = setting(
        "allowExternalEmbedUrls",
        Bool(),
        default=False,
        description="DANGEROUS: let hosted embeds load absolute external http(s) URLs.",
    )
    automatically_fetch_favicons: bool = setting(
        "automaticallyFetchFavicons",
        Bool(),
        default=True,
        description="Fetch link favicons and previews through the gateway.",
    )
    community_invite: bool = setting(
        "communityInvite",
        Bool(),
        default=True,
        description="Show the community invitation in the Control UI.",
    )
    environment: ControlUiEnvironmentConfig | None = setting(
        "environment",
        Section(ControlUiEnvironmentConfig),
        default=None,
        description="Environment label shown in the Control UI and browser tab.",
    )


@attrs.frozen(repr=False)
class ChatImagesConfig(ConfigObject):
    """Image inputs of ``POST /v1/chat/completions``."""

    allow_url: bool = setting(
        "allowUrl", Bool(), default=False, description="Fetch image parts given as URLs."
    )


@attrs.frozen(repr=False)
class ChatCompletionsEndpointConfig(ConfigObject):
    """``POST /v1/chat/completions``."""

    enabled: bool = setting(
        "enabled", Bool(), default=False, description="Serve the Chat Completions endpoint."
    )
    images: ChatImagesConfig = setting(
        "images", Section(ChatImagesConfig), factory=ChatImagesConfig,
        description="Image inputs.",
    )


@attrs.frozen(repr=False)
class ResponsesEndpointConfig(ConfigObject):
    """``POST /v1/responses``."""

    enabled: bool = setting(
        "enabled", Bool(), default=False, description="Serve the Responses endpoint."
    )
    max_url_parts: int | None = setting(
        "maxUrlParts",
        Int(minimum=0),
        default=None,
        description="Maximum URL-sourced input parts per request.",
    )


@attrs.frozen(repr=False)
class HttpEndpointsConfig(ConfigObject):
    """OpenAI-compatible HTTP endpoints."""

    chat_completions: ChatCompletionsEndpointConfig = setting(
        "chatCompletions",
        Section(ChatCompletionsEndpointConfig),
        factory=ChatCompletionsEndpointConfig,
        description="Chat Completions endpoint.",
    )
    responses: ResponsesEndpointConfig = setting(
        "responses",
        Section(ResponsesEndpointConfig),
        factory=ResponsesEndpointConfig,
        description="Responses endpoint.",
    )


@attrs.frozen(repr=False)
class GatewayHttpConfig(ConfigObject):
    """HTTP surface of the gateway port."""

    endpoints: HttpEndpointsConfig = setting(
        "endpoints",
        Section(HttpEndpointsConfig),
        factory=HttpEndpointsConfig,
        description="Optional HTTP endpoints.",
    )


@attrs.frozen(repr=False)
class GatewayToolsConfig(ConfigObject):
    """Extra allow/deny of tools for ``POST /tools/invoke``."""

    allow: tuple[str, ...] = setting(
        "allow", ListOf(Str()), default=(), description="Tools allowed over HTTP."
    )
    deny: tuple[str, ...] = setting(
        "deny", ListOf(Str()), default=(), description="Tools denied over HTTP."
    )


@attrs.frozen(repr=False)
class NodePairingConfig(ConfigObject):
    """How device nodes are paired."""

    auto_approve_local: bool | None = setting(
        "autoApproveLocal",
        Bool(),
        default=None,
        description="Approve pairing of local nodes silently; unset = the built-in rule.",
    )


@attrs.frozen(repr=False)
class GatewayNodesConfig(ConfigObject):
    """Device nodes (``openclaw-node`` clients)."""

    pairing: NodePairingConfig = setting(
        "pairing", Section(NodePairingConfig), factory=NodePairingConfig,
        description="Node pairing.",
    )


@attrs.frozen(repr=False)
class GatewayConfig(ConfigObject):
    """The gateway process: listener, auth, reload, Control UI, HTTP endpoints."""

    mode: str | None = setting(
        "mode",
        Enum("local", "remote"),
        default=None,
        description='"local" runs a gateway here; "remote" makes the CLI use gateway.remote.',
    )
    port: int | None = setting(
        "port",
        Int(minimum=1, maximum=65535),
        default=None,
        description=(
            "Listen port (WS + HTTP). Precedence: --port > OPENCLAW_GATEWAY_PORT > this > 18789."
        ),
    )
    bind: str | None = setting(
        "bind",
        Enum("auto", "lan", "loopback", "custom", "tailnet"),
        default=None,
        description='Interface policy; unset = "loopback". Non-loopback binds require auth.',
    )
    custom_bind_host: str | None = setting(
        "customBindHost",
        Str(check=_ipv4),
        default=None,
        description='IPv4 address to listen on when bind is "custom".',
    )
    auth: GatewayAuthConfig = setting(
        "auth", Section(GatewayAuthConfig), factory=GatewayAuthConfig, description="Client auth."
    )
    reload: ReloadConfig = setting(
        "reload", Section(ReloadConfig), factory=ReloadConfig, description="Config hot reload."
    )
    control_ui: ControlUiConfig = setting(
        "controlUi", Section(ControlUiConfig), factory=ControlUiConfig, description="Control UI."
    )
    http: GatewayHttpConfig = setting(
        "http", Section(GatewayHttpConfig), factory=GatewayHttpConfig, description="HTTP APIs."
    )
    tools: GatewayToolsConfig = setting(
        "tools", Section(GatewayToolsConfig), factory=GatewayToolsConfig,
        description="Tools over HTTP.",
    )
    nodes: GatewayNodesConfig = setting(
        "nodes", Section(GatewayNodesConfig), factory=GatewayNodesConfig,
        description="Device nodes.",
    )
    trusted_proxies: tuple[str, ...] = setting(
        "trustedProxies",
        ListOf(Str()),
        default=(),
        description="Reverse proxy IPs whose X-Forwarded-For is trusted.",
    )
    allow_real_ip_fallback: bool = setting(
        "allowRealIpFallback",
        Bool(),
        default=False,
        description="Accept X-Real-IP when X-Forwarded-For is missing.",
    )


# --------------------------------------------------------------------------- memory


@attrs.frozen(repr=False)
class MemorySearchRemoteConfig(ConfigObject):
    """Remote embedding endpoint overrides."""

    base_url: str | None = setting(
        "baseUrl", Str(), default=None, description="Embedding API base URL override."
    )
    api_key: str | SecretRef | None = setting(
        "apiKey", SecretInput, default=None, description="API key (string or SecretRef)."
    )
    headers: Mapping[str, str] = setting(
        "headers",
        MapOf(Str()),
        default=FrozenDict(),
        description="Extra HTTP headers for embedding requests.",
    )


@attrs.frozen(repr=False)
class MemorySearchQueryConfig(ConfigObject):
    """Retrieval limits."""

    max_results: int | None = setting(
        "maxResults", Int(exclusive_minimum=0), default=None, description="Maximum hits."
    )
    min_score: int | float | None = setting(
        "minScore", Num(minimum=0, maximum=1), default=None, description="Minimum score (0..1)."
    )


@attrs.frozen(repr=False)
class MemoryExtraPath(ConfigObject):
    """An extra directory or file to index (a bare string means ``{path}``)."""

    path: str = setting("path", Str(), description="Directory or .md file.")
    pattern: str | None = setting(
        "pattern", Str(), default=None, description="Root-relative glob for directories."
    )


@attrs.frozen(repr=False)
class MemorySearchConfig(ConfigObject):
    """Memory search (embeddings) settings.

    Every field is None when unset so a per-agent block can override the global one
    key by key; see :meth:`overlay` and :meth:`OpenClawConfig.memory_search_for`.
    Effective defaults: enabled, provider ``openai``, fallback ``none``, sources ``memory``.
    """

    enabled: bool | None = setting(
        "enabled", Bool(), default=None, description="Enable memory search (default true)."
    )
    provider: str | None = setting(
        "provider",
        Str(),
        default=None,
        description='Embedding adapter id or a models.providers id (default "openai").',
    )
    model: str | None = setting("model", Str(), default=None, description="Embedding model.")
    fallback: str | None = setting(
        "fallback", Str(), default=None, description='Fallback adapter (default "none").'
    )
    sources: tuple[str, ...] | None = setting(
        "sources",
        ListOf(Enum("memory", "sessions")),
        default=None,
        description='Indexed sources (default ["memory"]).',
    )
    extra_paths: tuple[MemoryExtraPath, ...] | None = setting(
        "extraPaths",
        ListOf(
            OneOf(
                Transformed(Str(), lambda text: MemoryExtraPath(path=text)),
                Section(MemoryExtraPath),
            )
        ),
        default=None,
        description="Extra directories or files to index.",
    )
    remote: MemorySearchRemoteConfig | None = setting(
        "remote",
        Section(MemorySearchRemoteConfig),
        default=None,
        description="Remote embedding endpoint.",
    )
    query: MemorySearchQueryConfig | None = setting(
        "query", Section(MemorySearchQueryConfig), default=None, description="Retrieval limits."
    )

    def overlay(self, override: MemorySearchConfig | None) -> MemorySearchConfig:
        """This config with every field ``override`` sets replaced (per-agent over global)."""
        if override is None:
            return self
        changes = {
            field.name: getattr(override, field.name)
            for field in attrs.fields(MemorySearchConfig)
            if getattr(override, field.name) is not None
        }
        return attrs.evolve(self, **changes)


@attrs.frozen(repr=False)
class MemoryConfig(ConfigObject):
    """Shared memory settings."""

    search: MemorySearchConfig = setting(
        "search",
        Section(MemorySearchConfig),
        factory=MemorySearchConfig,
        description="Memory search defaults for every agent.",
    )


# --------------------------------------------------------------------------- tools


TOOL_PROFILES = ("minimal", "coding", "messaging", "full")


@attrs.frozen(repr=False)
class ExecToolConfig(ConfigObject):
    """The ``exec`` tool (shell commands in the workspace)."""

    security: str | None = setting(
        "security", Enum("deny", "allowlist", "full", style="enum"), default=None,
        description='"deny": no exec; "allowlist"; "full": also in non-main sessions.',
    )
    ask: str | None = setting(
        "ask", Enum("off", "on-miss", "always", style="enum"), default=None,
        description="When an operator must approve a command.",
    )
    timeout_seconds: int | None = setting(
        "timeoutSeconds", Int(exclusive_minimum=0), default=None,
        description="Default command timeout.",
    )


@attrs.frozen(repr=False)
class ToolsConfig(ConfigObject):
    """Which tools agents may use (``tools``, and ``agents.entries.<id>.tools``)."""

    profile: str | None = setting(
        "profile", Enum(*TOOL_PROFILES), default=None,
        description='A base set: "minimal", "coding", "messaging" or "full".',
    )
    allow: tuple[str, ...] | None = setting(
        "allow", ListOf(Str()), default=None,
        description="Only these tools (names, group:... or globs).",
    )
    also_allow: tuple[str, ...] | None = setting(
        "alsoAllow", ListOf(Str()), default=None, description="Added to allow or the profile."
    )
    deny: tuple[str, ...] | None = setting(
        "deny", ListOf(Str()), default=None, description="Never these tools."
    )
    exec: ExecToolConfig | None = setting(
        "exec", Section(ExecToolConfig), default=None, description="The exec tool."
    )


@attrs.frozen(repr=False)
class CommandsConfig(ConfigObject):
    """Chat and operator commands."""

    restart: bool = setting(
        "restart", Bool(), default=True,
        description="Allow restarts requested by an outside signal (SIGUSR1).",
    )
    owner_allow_from: tuple[str, ...] | None = setting(
        "ownerAllowFrom", AllowList, default=None,
        description='Command owners as "<channel>:<sender id>" (set by the first pairing '
                    "approval).",
    )


# --------------------------------------------------------------------------- agents


@attrs.frozen(repr=False)
class ModelSelection(ConfigObject):
    """A model choice: ``"provider/model"`` or ``{primary, fallbacks}``.

    ``fallbacks`` is None when not given (string form or object without the key), so callers
    can tell "inherit fallbacks" from an explicit empty list.
    """

    primary: str | None = setting(
        "primary", Str(), default=None, description="Primary model (provider/model)."
    )
    fallbacks: tuple[str, ...] | None = setting(
        "fallbacks",
        ListOf(Str()),
        default=None,
        description="Ordered fallback models (provider/model).",
    )


ModelRef = OneOf(
    Transformed(Str(), lambda text: ModelSelection(primary=text)), Section(ModelSelection)
)


@attrs.frozen(repr=False)
class AgentIdentityConfig(ConfigObject):
    """How an agent presents itself."""

    name: str | None = setting("name", Str(), default=None, description="Display name.")
    theme: str | None = setting("theme", Str(), default=None, description="Persona theme.")
    emoji: str | None = setting("emoji", Str(), default=None, description="Emoji.")
    avatar: str | None = setting(
        "avatar",
        Str(),
        default=None,
        description="Avatar: workspace-relative path, http(s) URL or data URI.",
    )


@attrs.frozen(repr=False)
class AgentMemoryConfig(ConfigObject):
    """Per-agent memory overrides."""

    search: MemorySearchConfig | None = setting(
        "search",
        Section(MemorySearchConfig),
        default=None,
        description="Overrides of memory.search for this agent.",
    )


@attrs.frozen(repr=False)
class HeartbeatConfig(ConfigObject):
    """Periodic heartbeat turns (``agents.defaults.heartbeat``)."""

    every: str | None = setting(
        "every", Str(), default=None,
        description='Interval ("30m", "1h"); unset = 30m; "0m" turns heartbeats off.',
    )
    prompt: str | None = setting(
        "prompt", Str(), default=None, description="Prompt of a heartbeat turn."
    )
    target: str | None = setting(
        "target", Str(), default=None,
        description='Where the answer goes: "none", "last" or a channel id.',
    )
    to: str | None = setting("to", Str(), default=None, description="Recipient on the target.")
    account_id: str | None = setting(
        "accountId", Str(), default=None, description="Channel account of the target."
    )
    model: str | None = setting(
        "model", Str(), default=None, description="Model override for heartbeat turns."
    )
    session: str | None = setting(
        "session", Str(), default=None, description="Session key of heartbeat turns."
    )
    timeout_seconds: int | None = setting(
        "timeoutSeconds", Int(exclusive_minimum=0), default=None,
        description="Timeout of a heartbeat turn.",
    )
    light_context: bool = setting(
        "lightContext", Bool(), default=False,
        description="Only HEARTBEAT.md from the workspace bootstrap.",
    )
    isolated_session: bool = setting(
        "isolatedSession", Bool(), default=False,
        description="Run each heartbeat in a fresh session.",
    )


@attrs.frozen(repr=False)
class AgentDefaultsConfig(ConfigObject):
    """Defaults inherited by every agent."""

    workspace: str | None = setting(
        "workspace",
        Str(),
        default=None,
        description="Agent workspace; unset = <state dir>/workspace (or OPENCLAW_WORKSPACE_DIR).",
    )
    model: ModelSelection | None = setting(
        "model", ModelRef, default=None, description="Default model and fallbacks."
    )
    image_model: ModelSelection | None = setting(
        "imageModel",
        OneOf(
            Transformed(Str(), lambda text: ModelSelection(primary=text)),
            Section(ModelSelection),
        ),
        default=None,
        description="Model for images when the primary lacks image input.",
    )
    skip_bootstrap: bool = setting(
        "skipBootstrap",
        Bool(),
        default=False,
        description="Do not create AGENTS.md, SOUL.md ... in a new workspace.",
    )
    bootstrap_max_chars: int = setting(
        "bootstrapMaxChars",
        Int(exclusive_minimum=0),
        default=20000,
        description="Characters of each bootstrap file injected into the system prompt.",
    )
    bootstrap_total_max_chars: int = setting(
        "bootstrapTotalMaxChars",
        Int(exclusive_minimum=0),
        default=60000,
        description="Characters of all bootstrap files together.",
    )
    timeout_seconds: int = setting(
        "timeoutSeconds",
        Int(minimum=0),
        default=600,
        description="Agent run timeout in seconds.",
    )
    media_max_mb: int | float = setting(
        "mediaMaxMb",
        Num(exclusive_minimum=0),
        default=5,
        description="Maximum inbound media size in MB.",
    )
    max_concurrent: int | None = setting(
        "maxConcurrent",
        Int(exclusive_minimum=0),
        default=None,
        description="Parallel agent runs; unset = max(8, 4 x CPU count).",
    )
    user_timezone: str | None = setting(
        "userTimezone", Str(), default=None, description="IANA time zone of the user."
    )
    heartbeat: HeartbeatConfig | None = setting(
        "heartbeat", Section(HeartbeatConfig), default=None,
        description="Heartbeat turns of every agent.",
    )


@attrs.frozen(repr=False)
class AgentEntryConfig(ConfigObject):
    """One configured agent (``agents.entries.<id>``); unset fields inherit the defaults."""

    id: str = DEFAULT_AGENT_ID
    """Canonical agent id (the lowercased entry key); not a JSON field."""
    name: str | None = setting("name", Str(), default=None, description="Display name.")
    description: str | None = setting(
        "description", Str(), default=None, description="What this agent is for."
    )
    default: bool = setting(
        "default",
        Bool(),
        default=False,
        description="Legacy default-agent marker (at most one agent).",
    )
    workspace: str | None = setting(
        "workspace", Str(), default=None, description="Workspace of this agent."
    )
    agent_dir: str | None = setting(
        "agentDir",
        Str(),
        default=None,
        description="Agent state dir; unset = <state>/agents/<id>/agent.",
    )
    model: ModelSelection | None = setting(
        "model", ModelRef, default=None, description="Model of this agent."
    )
    identity: AgentIdentityConfig | None = setting(
        "identity", Section(AgentIdentityConfig), default=None, description="Agent persona."
    )
    memory: AgentMemoryConfig | None = setting(
        "memory", Section(AgentMemoryConfig), default=None, description="Memory overrides."
    )
    heartbeat: HeartbeatConfig | None = setting(
        "heartbeat", Section(HeartbeatConfig), default=None,
        description="Heartbeat overrides of this agent.",
    )
    tools: ToolsConfig | None = setting(
        "tools", Section(ToolsConfig), default=None, description="Tools of this agent."
    )


def _agents_check(
    values: dict[str, Any], raw: Mapping[str, Any], path: Path, ctx: ConversionContext
) -> None:
    entries = raw.get("entries")
    if not isinstance(entries, Mapping):
        return
    first_key: dict[str, str] = {}
    for key in entries:
        if not isinstance(key, str):
            continue
        agent_id = normalize_agent_id(key)
        if agent_id not in first_key:
            first_key[agent_id] = key
            continue
        ctx.add(
            (*path, "entries", key),
            f'agents.entries keys "{first_key[agent_id]}" and "{key}" resolve to the same '
            f'agent id "{agent_id}"; rename one key so each agent has a unique id',
        )
    marked = [
        key
        for key, entry in entries.items()
        if isinstance(entry, Mapping) and entry.get("default") is True
    ]
    if len(marked) > 1:
        ctx.add(
            (*path, "entries"),
            f"agents.entries must contain at most one default=true entry (found {len(marked)})",
        )
    ownership = raw.get("ownership")
    if ownership == "explicit" and marked:
        ctx.add(
            (*path, "ownership"),
            "agents.ownership=explicit cannot be combined with a legacy default=true marker",
        )
    if len(entries) > 1 and not marked and ownership != "explicit":
        ctx.add(
            (*path, "ownership"),
            'multi-agent rosters require agents.ownership="explicit" or one legacy default=true '
            'marker; add agents.ownership="explicit" or run openclaw doctor',
        )


@attrs.frozen(repr=False)
class AgentsConfig(ConfigObject):
    """Agent defaults and the configured agents."""

    ownership: str | None = setting(
        "ownership",
        Enum("explicit"),
        default=None,
        description='"explicit": a multi-agent fleet without a default agent.',
    )
    defaults: AgentDefaultsConfig = setting(
        "defaults",
        Section(AgentDefaultsConfig),
        factory=AgentDefaultsConfig,
        description="Defaults for every agent.",
    )
    entries: Mapping[str, AgentEntryConfig] = setting(
        "entries",
        MapOf(
            Section(AgentEntryConfig),
            key_pattern=AGENT_ID_PATTERN,
            key_pattern_flags=re.IGNORECASE,  # agent ids are case-insensitive
            normalize_key=normalize_agent_id,
            key_field="id",
        ),
        default=FrozenDict(),
        description="Configured agents keyed by id (legacy agents.list is migrated here).",
    )

    @property
    def default_agent_id(self) -> str:
        """First agent marked ``default: true``, else the first agent, else ``"main"``."""
        for agent_id, entry in self.entries.items():
            if entry.default:
                return agent_id
        for agent_id in self.entries:
            return agent_id
        return DEFAULT_AGENT_ID

    @property
    def default_agent(self) -> AgentEntryConfig:
        """The default agent's entry (a bare ``main`` entry when none is configured)."""
        return self.entries.get(self.default_agent_id) or AgentEntryConfig(id=self.default_agent_id)

    @property
    def roster(self) -> tuple[AgentEntryConfig, ...]:
        """Every agent: the configured entries, or the implicit ``main`` agent."""
        return tuple(self.entries.values()) or (AgentEntryConfig(id=DEFAULT_AGENT_ID),)

    @property
    def ownership_kind(self) -> str:
        """``explicit`` (a fleet without a default agent), ``sole`` (one agent) or ``legacy``."""
        if self.ownership == "explicit":
            return "explicit"
        return "sole" if len(self.entries) <= 1 else "legacy"

    def heartbeat_for(self, agent_id: str) -> HeartbeatConfig:
        """``agents.defaults.heartbeat`` with the agent's own ``heartbeat`` laid over it."""
        base = self.defaults.heartbeat or HeartbeatConfig()
        entry = self.entries.get(normalize_agent_id(agent_id))
        override = entry.heartbeat if entry is not None else None
        if override is None:
            return base
        changes = {
            field.name: getattr(override, field.name)
            for field in attrs.fields(HeartbeatConfig)
            if getattr(override, field.name) != field.default
        }
        return attrs.evolve(base, **changes)


# --------------------------------------------------------------------------- models


@attrs.frozen(repr=False)
class ModelCostConfig(ConfigObject):
    """Price per million tokens (for usage accounting)."""

    input: int | float | None = setting("input", Num(), default=None, description="Input.")
    output: int | float | None = setting("output", Num(), default=None, description="Output.")
    cache_read: int | float | None = setting(
        "cacheRead", Num(), default=None, description="Cache read."
    )
    cache_write: int | float | None = setting(
        "cacheWrite", Num(), default=None, description="Cache write."
    )


@attrs.frozen(repr=False)
class ModelCompatConfig(ConfigObject):
    """What the model's API supports (``compat``; the other upstream keys are kept verbatim)."""

    supports_tools: bool | None = setting(
        "supportsTools",
        Bool(),
        default=None,
        description="Model can call tools (false: the agent offers it none).",
    )


@attrs.frozen(repr=False)
class ModelDefinitionConfig(ConfigObject):
    """One model offered by a custom provider."""

    id: str = setting("id", Str(min_length=1), description="Model id sent to the provider.")
    name: str = setting("name", Str(min_length=1), description="Display name.")
    api: str | None = setting(
        "api", Enum(*MODEL_APIS, style="enum"), default=None, description="API override."
    )
    base_url: str | None = setting(
        "baseUrl", Str(min_length=1), default=None, description="Base URL override."
    )
    reasoning: bool | None = setting(
        "reasoning", Bool(), default=None, description="Model supports reasoning."
    )
    input: tuple[str, ...] | None = setting(
        "input",
        ListOf(Enum("text", "image", "video", "audio")),
        default=None,
        description='Input modalities (default ["text"]).',
    )
    cost: ModelCostConfig | None = setting(
        "cost",
        Section(ModelCostConfig),
        default=None,
        description="Token prices.",
    )
    context_window: int | float | None = setting(
        "contextWindow",
        Num(exclusive_minimum=0),
        default=None,
        description="Native context window.",
    )
    context_tokens: int | None = setting(
        "contextTokens",
        Int(exclusive_minimum=0),
        default=None,
        description="Cap on active input tokens.",
    )
    max_tokens: int | float | None = setting(
        "maxTokens", Num(exclusive_minimum=0), default=None, description="Maximum output tokens."
    )
    headers: Mapping[str, str] = setting(
        "headers", MapOf(Str()), default=FrozenDict(), description="Extra request headers."
    )
    compat: ModelCompatConfig | None = setting(
        "compat",
        Section(ModelCompatConfig),
        default=None,
        description="API capabilities of this model (supportsTools, ...).",
    )


@attrs.frozen(repr=False)
class LocalServiceConfig(ConfigObject):
    """A local model server started on demand (see docs/gateway/local-model-services.md)."""

    command: str = setting(
        "command", Str(min_length=1), description="Absolute path of the server executable."
    )
    args: tuple[str, ...] = setting(
        "args", ListOf(Str()), default=(), description="Arguments (no shell expansion)."
    )
    cwd: str | None = setting(
        "cwd", Str(min_length=1), default=None, description="Working directory."
    )
    env: Mapping[str, str] = setting(
        "env",
        MapOf(Str()),
        default=FrozenDict(),
        description="Environment variables merged over the gateway's.",
    )
    health_url: str | None = setting(
        "healthUrl",
        Str(min_length=1),
        default=None,
        description="Readiness URL; unset = baseUrl + /models.",
    )
    ready_timeout_ms: int = setting(
        "readyTimeoutMs",
        Int(exclusive_minimum=0),
        default=120000,
        description="Startup readiness deadline (ms).",
    )
    idle_stop_ms: int = setting(
        "idleStopMs",
        Int(minimum=0),
        default=0,
        description="Stop an idle server after this many ms; 0 keeps it running.",
    )


@attrs.frozen(repr=False)
class ModelProviderConfig(ConfigObject):
    """A custom or overridden model provider."""

    base_url: str | None = setting("baseUrl", Str(), default=None, description="API base URL.")
    api_key: str | SecretRef | None = setting(
        "apiKey", SecretInput, default=None, description="API key (string or SecretRef)."
    )
    api: str | None = setting(
        "api", Enum(*MODEL_APIS, style="enum"), default=None, description="Wire API."
    )
    headers: Mapping[str, str | SecretRef] = setting(
        "headers",
        MapOf(SecretInput),
        default=FrozenDict(),
        description="Extra request headers (values may be SecretRefs).",
    )
    auth_header: bool | None = setting(
        "authHeader",
        Bool(),
        default=None,
        description="Send the key in the Authorization header.",
    )
    timeout_seconds: int | None = setting(
        "timeoutSeconds",
        Int(exclusive_minimum=0),
        default=None,
        description="Model request timeout (s).",
    )
    models: tuple[ModelDefinitionConfig, ...] = setting(
        "models",
        ListOf(Section(ModelDefinitionConfig)),
        default=(),
        description="Models served by this provider.",
    )
    local_service: LocalServiceConfig | None = setting(
        "localService",
        Section(LocalServiceConfig),
        default=None,
        description="Start a local model server on demand.",
    )


# Provider ids the real gateway knows without a baseUrl/models catalog of their own
# (src/config/model-provider-overlay-ids.ts, 2026.9.6).
BUILT_IN_MODEL_PROVIDER_IDS = frozenset(
    {
        "amazon-bedrock", "amazon-bedrock-mantle", "anthropic", "anthropic-vertex", "arcee",
        "azure-openai-responses", "byteplus", "byteplus-plan", "cerebras", "chutes",
        "claude-cli", "clawrouter", "cloudflare-ai-gateway", "codex", "comfy", "copilot-proxy",
        "dashscope", "deepinfra", "deepseek", "fal", "fireworks", "github-copilot", "gmi",
        "gmi-cloud", "gmicloud", "google", "google-antigravity", "google-gemini-cli",
        "google-vertex", "groq", "huggingface", "kilocode", "kimi", "kimi-coding", "litellm",
        "lmstudio", "meta", "microsoft-foundry", "minimax", "minimax-portal", "mistral",
        "modelstudio", "moonshot", "moonshot-ai", "moonshotai", "nvidia", "novita",
        "novita-ai", "novitaai", "ollama", "ollama-cloud", "openai", "opencode", "opencode-go",
        "openrouter", "qianfan", "qwen", "qwen-token-plan", "qwencloud", "sglang", "stepfun",
        "stepfun-plan", "synthetic", "tencent-tokenhub", "tencent-tokenplan", "together",
        "venice", "vercel-ai-gateway", "vllm", "volcengine", "volcengine-plan", "vydra", "x-ai",
        "xai", "xiaomi", "xiaomi-token-plan", "z.ai", "z-ai", "zai",
    }
)  # fmt: skip


def _models_check(
    values: dict[str, Any], raw: Mapping[str, Any], path: Path, ctx: ConversionContext
) -> None:
    providers = raw.get("providers")
    if not isinstance(providers, Mapping):
        return
    prefix = (*path, "providers")
    if any(issue.hard and issue.path[: len(prefix)] == prefix for issue in ctx.issues):
        return  # like zod, the refinement only runs once the entries parsed
    for provider_id, provider in providers.items():
        if not isinstance(provider, Mapping) or not isinstance(provider_id, str):
            continue
        if provider_id.strip().lower() in BUILT_IN_MODEL_PROVIDER_IDS:
            continue
        if not provider.get("baseUrl"):
            ctx.add(
                (*path, "providers", provider_id, "baseUrl"),
                "custom model providers must declare baseUrl; provider overlays without baseUrl "
                "are only supported for bundled providers",
            )
        if not isinstance(provider.get("models"), list | tuple):
            ctx.add(
                (*path, "providers", provider_id, "models"),
                "custom model providers must declare models; provider overlays without models "
                "are only supported for bundled providers",
            )


@attrs.frozen(repr=False)
class ModelsConfig(ConfigObject):
    """Model providers and catalog mode."""

    mode: str = setting(
        "mode",
        Enum("merge", "replace"),
        default="merge",
        description="merge: add to the built-in catalog; replace: use only these providers.",
    )
    providers: Mapping[str, ModelProviderConfig] = setting(
        "providers",
        MapOf(Section(ModelProviderConfig)),
        default=FrozenDict(),
        description="Providers keyed by id.",
    )


# --------------------------------------------------------------------------- logging, env, meta


@attrs.frozen(repr=False)
class DiagnosticsConfig(ConfigObject):
    """Diagnostics: the Prometheus metrics at ``/api/diagnostics/prometheus``."""

    enabled: bool = setting(
        "enabled", Bool(), default=True,
        description="Record diagnostics (metrics); false: the metrics endpoint answers empty.",
    )


@attrs.frozen(repr=False)
class LoggingConfig(ConfigObject):
    """Console and file logging."""

    level: str = setting("level", Enum(*LOG_LEVELS), default="info", description="File log level.")
    file: str | None = setting(
        "file",
        Str(),
        default=None,
        description="Fixed log file; unset = /tmp/openclaw/openclaw-YYYY-MM-DD.log.",
    )
    max_file_bytes: int = setting(
        "maxFileBytes",
        Int(exclusive_minimum=0),
        default=104857600,
        description="Rotate the active log file at this size.",
    )
    console_level: str = setting(
        "consoleLevel",
        Enum(*LOG_LEVELS),
        default="info",
        description="Console level (debug with --verbose).",
    )
    console_style: str = setting(
        "consoleStyle", Enum("pretty", "json"), default="pretty", description="Console format."
    )
    redact_patterns: tuple[str, ...] | None = setting(
        "redactPatterns",
        ListOf(Str()),
        default=None,
        description="Regexes replacing the default redaction patterns.",
    )


@attrs.frozen(repr=False)
class ShellEnvConfig(ConfigObject):
    """Import missing variables from the login shell."""

    enabled: bool = setting("enabled", Bool(), default=False, description="Enable the import.")
    timeout_ms: int = setting(
        "timeoutMs", Int(minimum=0), default=15000, description="Shell timeout (ms)."
    )


@attrs.frozen(repr=False)
class EnvConfig(ConfigObject):
    """Environment variables provided by the config (never override the process env)."""

    vars: Mapping[str, str] = setting(
        "vars", MapOf(Str()), default=FrozenDict(), description="Variables to set if missing."
    )
    shell_env: ShellEnvConfig = setting(
        "shellEnv", Section(ShellEnvConfig), factory=ShellEnvConfig, description="Shell import."
    )


@attrs.frozen(repr=False)
class MetaConfig(ConfigObject):
    """Written by OpenClaw on every config write."""

    last_touched_version: str | None = setting(
        "lastTouchedVersion",
        Str(),
        default=None,
        description="Version of the OpenClaw that last wrote the file.",
    )


# --------------------------------------------------------------------------- sessions & messages


@attrs.frozen(repr=False)
class SessionConfig(ConfigObject):
    """How conversations map to sessions."""

    main_key: str = setting(
        "mainKey", Str(), default="main", description="Suffix of each agent's main session."
    )
    scope: str = setting(
        "scope", Enum("per-sender", "global"), default="per-sender",
        description='"per-sender" isolates by sender; "global" shares one session.',
    )
    dm_scope: str = setting(
        "dmScope",
        Enum("main", "per-peer", "per-channel-peer", "per-account-channel-peer", style="enum"),
        default="main",
        description="How direct messages are grouped into sessions.",
    )


@attrs.frozen(repr=False)
class QueueConfig(ConfigObject):
    """Messages that arrive while a session is busy."""

    mode: str | None = setting(
        "mode", Enum("steer", "followup", "collect", "interrupt"), default=None,
        description='"steer", "followup", "collect" or "interrupt"; unset = steer.',
    )
    cap: int = setting(
        "cap", Int(exclusive_minimum=0), default=20,
        description="Queued messages kept per session before the oldest is dropped.",
    )


@attrs.frozen(repr=False)
class MessagesConfig(ConfigObject):
    """Inbound message handling."""

    queue: QueueConfig = setting(
        "queue", Section(QueueConfig), factory=QueueConfig, description="Busy-session queue."
    )


@attrs.frozen(repr=False)
class DesktopHostConfig(ConfigObject):
    """The desktop app's host service."""

    enabled: bool = setting("enabled", Bool(), default=False, description="Host enabled.")
    port: int | None = setting(
        "port", Int(minimum=1, maximum=65535), default=None, description="Host port."
    )


@attrs.frozen(repr=False)
class DesktopConfig(ConfigObject):
    """The desktop app."""

    host: DesktopHostConfig | None = setting(
        "host", Section(DesktopHostConfig), default=None, description="Desktop host."
    )


@attrs.frozen(repr=False)
class HookMatchConfig(ConfigObject):
    """What a hook mapping matches."""

    path: str | None = setting("path", Str(), default=None, description="Hook path.")
    source: str | None = setting("source", Str(), default=None, description="Payload source.")


@attrs.frozen(repr=False)
class HookMappingConfig(ConfigObject):
    """One ``hooks.mappings`` entry: a webhook payload turned into a wake or an agent run."""

    id: str | None = setting("id", Str(), default=None, description="Mapping id.")
    match: HookMatchConfig | None = setting(
        "match", Section(HookMatchConfig), default=None, description="What it matches."
    )
    action: str = setting(
        "action", Enum("wake", "agent"), default="agent", description='"wake" or "agent".'
    )
    wake_mode: str = setting(
        "wakeMode", Enum("now", "next-heartbeat"), default="now", description="Wake timing."
    )
    name: str | None = setting("name", Str(), default=None, description="Name template.")
    agent_id: str | None = setting("agentId", Str(), default=None, description="Agent.")
    session_key: str | None = setting(
        "sessionKey", Str(), default=None, description="Session key template."
    )
    session_mode: str = setting(
        "sessionMode", Enum("isolated", "persistent"), default="isolated",
        description="A new session per hook call, or one kept.",
    )
    message_template: str | None = setting(
        "messageTemplate", Str(), default=None, description="Agent message template."
    )
    text_template: str | None = setting(
        "textTemplate", Str(), default=None, description="Wake text template."
    )
    for_each: str | None = setting(
        "forEach", Str(pattern=r"^[^.[\]]+$"), default=None,
        description="Payload array to map item by item.",
    )
    deliver: bool | None = setting("deliver", Bool(), default=None, description="Deliver.")
    allow_unsafe_external_content: bool = setting(
        "allowUnsafeExternalContent", Bool(), default=False,
        description="Do not wrap payload text as untrusted external content.",
    )
    channel: str | None = setting(
        "channel", Str(min_length=1), default=None, description="Reply channel."
    )
    to: str | None = setting("to", Str(), default=None, description="Reply recipient.")
    model: str | None = setting("model", Str(), default=None, description="Model template.")
    thinking: str | None = setting("thinking", Str(), default=None, description="Thinking.")
    timeout_seconds: int | None = setting(
        "timeoutSeconds", Int(exclusive_minimum=0), default=None, description="Run timeout."
    )
    transform: Mapping[str, Any] | None = setting(
        "transform", MapOf(Str()), default=None,
        description="A JS transform module (not supported here: the mapping is skipped).",
    )


@attrs.frozen(repr=False)
class HooksConfig(ConfigObject):
    """Inbound webhooks (``/hooks/*``)."""

    enabled: bool = setting("enabled", Bool(), default=False, description="Serve hooks.")
    path: str | None = setting(
        "path", Str(), default=None, description='Base path; unset = "/hooks".'
    )
    token: str | SecretRef | None = setting(
        "token", SecretInput, default=None, description="Bearer token of hook callers."
    )
    default_session_key: str | None = setting(
        "defaultSessionKey", Str(), default=None, description="Session of /hooks/agent."
    )
    allow_request_session_key: bool = setting(
        "allowRequestSessionKey", Bool(), default=False,
        description="Let callers pick the session key.",
    )
    allowed_session_key_prefixes: tuple[str, ...] | None = setting(
        "allowedSessionKeyPrefixes", ListOf(Str()), default=None,
        description="Session key prefixes callers may use.",
    )
    allowed_agent_ids: tuple[str, ...] | None = setting(
        "allowedAgentIds", ListOf(Str()), default=None, description="Agents callers may use."
    )
    presets: tuple[str, ...] = setting(
        "presets", ListOf(Str()), default=(), description='Built-in mappings ("gmail").'
    )
    mappings: tuple[HookMappingConfig, ...] = setting(
        "mappings", ListOf(Section(HookMappingConfig)), default=(),
        description="Payload mappings.",
    )


# --------------------------------------------------------------------------- talk


@attrs.frozen(repr=False)
class TalkRealtimeProviderConfig(ConfigObject):
    """One provider's real-time voice settings (``talk.realtime.providers.<id>``)."""

    live_url: str | None = setting(
        "liveUrl", Str(min_length=1), default=None,
        description="openclaw-twisted: the Gemini Live WebSocket URL the VoiceClaw endpoint "
        "(/voiceclaw/realtime) connects to (provider id google; the key is appended as ?key=). "
        "Default: Google's BidiGenerateContent endpoint.",
    )


@attrs.frozen(repr=False)
class TalkRealtimeConfig(ConfigObject):
    """Real-time voice."""

    providers: Mapping[str, TalkRealtimeProviderConfig] = setting(
        "providers", MapOf(Section(TalkRealtimeProviderConfig)), default=FrozenDict(),
        description="Provider-owned real-time voice settings keyed by provider id.",
    )


@attrs.frozen(repr=False)
class TalkConfig(ConfigObject):
    """Talk mode and real-time voice."""

    realtime: TalkRealtimeConfig = setting(
        "realtime", Section(TalkRealtimeConfig), factory=TalkRealtimeConfig,
        description="Real-time voice.",
    )


# --------------------------------------------------------------------------- root


@attrs.frozen(repr=False)
class OpenClawConfig(ConfigObject):
    """The OpenClaw config (openclaw.json)."""

    schema: str | None = setting(
        "$schema", Str(), default=None, description="JSON Schema URL for editors."
    )
    meta: MetaConfig = setting(
        "meta", Section(MetaConfig), factory=MetaConfig, description="Write metadata."
    )
    env: EnvConfig = setting(
        "env", Section(EnvConfig), factory=EnvConfig, description="Config-provided environment."
    )
    gateway: GatewayConfig = setting(
        "gateway",
        Section(GatewayConfig, ignored_keys=frozenset({"token"})),
        factory=GatewayConfig,
        description="Gateway listener, auth, reload, UI and HTTP.",
    )
    agents: AgentsConfig = setting(
        "agents",
        Section(AgentsConfig, check=_agents_check),
        factory=AgentsConfig,
        description="Agents.",
    )
    models: ModelsConfig = setting(
        "models",
        Section(ModelsConfig, check=_models_check),
        factory=ModelsConfig,
        description="Model providers.",
    )
    memory: MemoryConfig = setting(
        "memory", Section(MemoryConfig), factory=MemoryConfig, description="Memory search."
    )
    logging: LoggingConfig = setting(
        "logging", Section(LoggingConfig), factory=LoggingConfig, description="Logging."
    )
    session: SessionConfig = setting(
        "session", Section(SessionConfig), factory=SessionConfig, description="Sessions."
    )
    messages: MessagesConfig = setting(
        "messages", Section(MessagesConfig), factory=MessagesConfig, description="Messages."
    )
    desktop: DesktopConfig = setting(
        "desktop", Section(DesktopConfig), factory=DesktopConfig, description="Desktop app."
    )
    hooks: HooksConfig = setting(
        "hooks", Section(HooksConfig), factory=HooksConfig, description="Inbound webhooks."
    )
    tools: ToolsConfig = setting(
        "tools", Section(ToolsConfig), factory=ToolsConfig, description="Agent tools."
    )
    channels: ChannelsConfig = setting(
        "channels", Section(ChannelsConfig), factory=ChannelsConfig, description="Chat channels."
    )
    bindings: tuple[BindingConfig, ...] = setting(
        "bindings", ListOf(Section(BindingConfig)), default=(),
        description="Routing of channel traffic to agents.",
    )
    commands: CommandsConfig = setting(
        "commands", Section(CommandsConfig), factory=CommandsConfig, description="Commands."
    )
    talk: TalkConfig = setting(
        "talk", Section(TalkConfig), factory=TalkConfig, description="Talk and real-time voice."
    )
    diagnostics: DiagnosticsConfig = setting(
        "diagnostics", Section(DiagnosticsConfig), factory=DiagnosticsConfig,
        description="Diagnostics and metrics.",
    )
    extra: Mapping[str, Any] = attrs.field(factory=FrozenDict, kw_only=True)
    """Real top-level sections not implemented here (``channels``, ``hooks``, ...), verbatim."""

    def section(self, name: str) -> Mapping[str, Any]:
        """A not-yet-typed top-level section as a read-only mapping (empty when absent)."""
        value = self.extra.get(name)
        return value if isinstance(value, Mapping) else FrozenDict()

    def memory_search_for(self, agent_id: str) -> MemorySearchConfig:
        """``memory.search`` with the agent's ``agents.entries.<id>.memory.search`` overlaid."""
        entry = self.agents.entries.get(normalize_agent_id(agent_id))
        override = entry.memory.search if entry and entry.memory else None
        return self.memory.search.overlay(override)


ROOT_SPEC = Section(OpenClawConfig)


def config_json_schema() -> dict[str, Any]:
    """JSON Schema (draft-07) of the config this gateway accepts, with defaults.

    Implemented keys carry types, constraints, defaults and descriptions; real OpenClaw keys
    that are accepted but not implemented yet are permissive and marked
    ``"x-openclaw-unsupported": true``.
    """
    from openclaw.config import upstream

    schema = section_json_schema(OpenClawConfig, ())
    for name in sorted(upstream.top_level_sections()):
        if name not in schema["properties"]:
            schema["properties"][name] = {
                "description": "A real OpenClaw section kept verbatim; not implemented yet.",
                "x-openclaw-unsupported": True,
            }
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
