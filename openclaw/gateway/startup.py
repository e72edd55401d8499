"""Everything `openclaw gateway` decides before it opens a socket.

Precedence (port, bind, auth), the startup guards and their exact upstream wording live here,
as pure functions of the options, the environment and the loaded config, so the CLI and the
twistd plugin refuse the same things with the same words.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Final

import attrs

from openclaw.config import (
    ConfigError,
    ConfigSnapshot,
    OpenClawPaths,
    ProfileError,
    apply_profile,
    load_config,
    resolve_paths,
)
from openclaw.config.paths import DEFAULT_PORT, resolve_gateway_port

if TYPE_CHECKING:
    from openclaw.auth.decision import AuthSettings
    from openclaw.config.schema import SecretRef
    from openclaw.secrets import SecretsSnapshot

# sysexits EX_CONFIG: what the real gateway exits with when the config forbids starting.
EXIT_CONFIG_ERROR = 78
EXIT_USAGE_ERROR = 1

BIND_MODES = ("loopback", "lan", "tailnet", "auto", "custom")
AUTH_MODES = ("none", "token", "password", "trusted-proxy")

PORT_ENV_VARS = ("OPENCLAW_GATEWAY_PORT", "CLAWDBOT_GATEWAY_PORT")
TOKEN_ENV_VARS = ("OPENCLAW_GATEWAY_TOKEN", "CLAWDBOT_GATEWAY_TOKEN")
PASSWORD_ENV_VARS = ("OPENCLAW_GATEWAY_PASSWORD", "CLAWDBOT_GATEWAY_PASSWORD")

_TAILNET = ipaddress.ip_network("100.64.0.0/10")


class StartupRefused(Exception):
    """The gateway must not start; `message` is what the operator sees, verbatim."""

    def __init__(self, message: str, exit_code: int = EXIT_CONFIG_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@attrs.frozen
class GatewayRunOptions:
    """The `gateway run` flags, as typed by the operator (strings are unvalidated)."""

    port: str | None = None
    bind: str | None = None
    token: str | None = None
    password: str | None = None
    auth: str | None = None
    verbose: bool = False
    force: bool = False
    allow_unconfigured: bool = False
    profile: str | None = None
    dev: bool = False


@attrs.frozen
class ResolvedAuth:
    """The gateway's effective shared-secret auth for this run."""

    mode: str
    token: str | None = attrs.field(default=None, repr=False)
    password: str | None = attrs.field(default=None, repr=False)
    generated_token: bool = False

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.token, self.password) if s)


@attrs.frozen
class ListenAddress:
    host: str
    required: bool = True


@attrs.frozen
class GatewayPlan:
    """What a gateway run will do: resolved paths, config, listen addresses and auth."""

    paths: OpenClawPaths
    snapshot: ConfigSnapshot
    port: int
    port_source: str
    bind: str
    bind_source: str
    listen: tuple[ListenAddress, ...]
    auth: ResolvedAuth
    options: GatewayRunOptions
    warnings: tuple[str, ...] = ()
    single_instance_lock: bool = True
    # Every active SecretRef of the config, resolved at start (None: not resolved yet).
    secrets: SecretsSnapshot | None = attrs.field(default=None, repr=False)

    @property
    def primary_host(self) -> str:
        return self.listen[0].host

    @property
    def ws_url(self) -> str:
        return f"ws://{_url_host(self.primary_host)}:{self.port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def format_mode_list(modes: tuple[str, ...]) -> str:
    quoted = [f'"{m}"' for m in modes]
    return f"{', '.join(quoted[:-1])}, or {quoted[-1]}"


def port_range_hint() -> str:
    return f"Use a port number from 1 to 65535, for example {DEFAULT_PORT}."


def parse_port_text(text: str) -> int | None:
    """A strict TCP port: decimal digits only, 1..65535."""
    stripped = text.strip()
    if not stripped.isdigit():
        return None
    value = int(stripped)
    return value if 1 <= value <= 65535 else None


def resolve_port(
    options: GatewayRunOptions, env: Mapping[str, str], snapshot: ConfigSnapshot
) -> tuple[int, str]:
    """`--port` > OPENCLAW_GATEWAY_PORT > gateway.port > 18789, with where it came from."""
    if options.port is not None:
        port = parse_port_text(options.port)
        if port is None:
            raise StartupRefused(f"Invalid --port. {port_range_hint()}", EXIT_USAGE_ERROR)
        return port, "--port"
    for name in PORT_ENV_VARS:
        raw = env.get(name)
        if raw is None or not raw.strip():
            continue
        port = parse_port_text(raw)
        if port is None:
            raise StartupRefused(
                f'Invalid {name} "{raw}" in the environment. {port_range_hint()}',
                EXIT_CONFIG_ERROR,
            )
        return port, name
    configured = snapshot.config.gateway.port
    if configured is not None:
        return configured, "gateway.port"
    # Named profiles (not dev, which sets the env above) get a stable port of their own.
    port = resolve_gateway_port(env, None)
    return port, "default" if port == DEFAULT_PORT else "profile"


def resolve_bind_mode(options: GatewayRunOptions, snapshot: ConfigSnapshot) -> tuple[str, str]:
    if options.bind is not None:
        mode, source = options.bind.strip(), "--bind"
    elif snapshot.config.gateway.bind is not None:
        mode, source = snapshot.config.gateway.bind, "gateway.bind"
    else:
        return "loopback", "default"
    if mode not in BIND_MODES:
        raise StartupRefused(
            f"Invalid --bind. Use {format_mode_list(BIND_MODES)}.", EXIT_USAGE_ERROR
        )
    return mode, source


def tailnet_ipv4_addresses() -> list[str]:
    """IPv4 addresses of this host inside Tailscale's CGNAT range (100.64.0.0/10)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a declared dependency
        return []
    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            try:
                ip = ipaddress.ip_address(address.address)
            except ValueError:
                continue
            if ip.version == 4 and ip in _TAILNET:
                found.append(str(ip))
    return found


def resolve_listen_addresses(
    bind: str, custom_host: str | None, tailnet: list[str] | None = None
) -> tuple[tuple[ListenAddress, ...], tuple[str, ...]]:
    """Hosts to listen on for a bind mode, plus warnings about fallbacks taken."""
    if bind in ("loopback", "auto"):
        # auto prefers loopback; both also try ::1 so IPv6 same-host clients get in.
        return (ListenAddress("127.0.0.1"), ListenAddress("::1", required=False)), ()
    if bind == "lan":
        return (ListenAddress("0.0.0.0"),), ()
    if bind == "tailnet":
        candidates = tailnet if tailnet is not None else tailnet_ipv4_addresses()
        if not candidates:
            return (
                (ListenAddress("127.0.0.1"),),
                ("bind=tailnet: no Tailscale (100.64.0.0/10) address on this host; "
                 "falling back to loopback 127.0.0.1",),
            )
        return (ListenAddress(candidates[0]), ListenAddress("127.0.0.1")), ()
    # custom
    if not custom_host:
        raise StartupRefused(
            "gateway.bind is custom but gateway.customBindHost is not set. "
            "Set gateway.customBindHost to an IPv4 address.",
        )
    try:
        ip = ipaddress.ip_address(custom_host)
    except ValueError:
        ip = None
    if ip is None or ip.version != 4:
        raise StartupRefused(
            f'Invalid gateway.customBindHost "{custom_host}": use an IPv4 address.'
        )
    if custom_host in ("127.0.0.1", "0.0.0.0"):
        return (ListenAddress(custom_host),), ()
    # A specific address also needs loopback on the same port for same-host clients.
    return (ListenAddress(custom_host), ListenAddress("127.0.0.1")), ()


def is_loopback_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _secret_value(
    value: str | SecretRef | None, env: Mapping[str, str], key: str,
    resolved_secrets: SecretsSnapshot | None = None,
) -> str | None:
    """A configured secret as text: a literal, or a SecretRef's value from the snapshot.

    Without a secrets snapshot only env SecretRefs resolve (direct callers, older tests).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if resolved_secrets is not None:
        resolved = resolved_secrets.value(key)
        if resolved is None:
            raise StartupRefused(f"{key} is a SecretRef that did not resolve.")
        return resolved
    source = getattr(value, "source", None)
    ref_id = getattr(value, "id", None)
    if source == "env" and isinstance(ref_id, str):
        resolved = env.get(ref_id)
        if not resolved:
            raise StartupRefused(
                f'{key} references env var "{ref_id}", which is not set.'
            )
        return resolved
    raise StartupRefused(
        f"{key} is a SecretRef with source {source!r}; only env SecretRefs resolve at "
        "startup in this version. Use an env SecretRef or a literal value."
    )


def _first_env(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = env.get(name)
        if value and value.strip():
            return value
    return None


def _has_text(value: str | None) -> bool:
    return bool(value and value.strip())


def resolve_auth(
    options: GatewayRunOptions, env: Mapping[str, str], snapshot: ConfigSnapshot,
    resolved: SecretsSnapshot | None = None,
) -> ResolvedAuth:
    """Auth precedence: flags > gateway.auth.* > OPENCLAW_GATEWAY_TOKEN/PASSWORD."""
    if options.auth is not None and options.auth not in AUTH_MODES:
        raise StartupRefused(
            f"Invalid --auth. Use {format_mode_list(AUTH_MODES)}.", EXIT_USAGE_ERROR
        )
    auth_config = snapshot.config.gateway.auth
    token = options.token or _secret_value(
        auth_config.token, env, "gateway.auth.token", resolved)
    token = token or _first_env(env, TOKEN_ENV_VARS)
    password = options.password or _secret_value(
        auth_config.password, env, "gateway.auth.password", resolved
    )
    password = password or _first_env(env, PASSWORD_ENV_VARS)
    mode = options.auth or auth_config.mode
    if mode is None:
        if auth_config.token is not None and auth_config.password is not None:
            raise StartupRefused(
                "Invalid config: gateway.auth.token and gateway.auth.password are both "
                "configured, but gateway.auth.mode is unset. Set gateway.auth.mode to token "
                "or password."
            )
        mode = "password" if _has_text(password) and not _has_text(token) else "token"
    if mode == "password" and not _has_text(password):
        raise StartupRefused(
            "Gateway auth is set to password, but no password is configured.\n"
            "Set gateway.auth.password (or OPENCLAW_GATEWAY_PASSWORD), or pass --password."
            + _miskey_hints(snapshot)
        )
    if mode == "token" and not _has_text(token):
        # Upstream never starts token mode without a token: it makes an ephemeral one.
        return ResolvedAuth(
            mode="token", token=secrets.token_hex(24), password=password, generated_token=True
        )
    return ResolvedAuth(mode=mode, token=token, password=password)


def _miskey_hints(snapshot: ConfigSnapshot) -> str:
    hints = []
    gateway = snapshot.parsed.get("gateway") if isinstance(snapshot.parsed, Mapping) else None
    if isinstance(gateway, Mapping):
        if "token" in gateway:
            hints.append('Found "gateway.token" in config. Use "gateway.auth.token" instead.')
        remote = gateway.get("remote")
        if isinstance(remote, Mapping) and "token" in remote:
            hints.append(
                '"gateway.remote.token" is for remote CLI calls; it does not enable local '
                "gateway auth."
            )
    return "".join("\n" + h for h in hints)


def check_start_guard(options: GatewayRunOptions, snapshot: ConfigSnapshot) -> None:
    """Refuse unless the config says gateway.mode=local (or --allow-unconfigured)."""
    if options.allow_unconfigured:
        return
    mode = snapshot.config.gateway.mode
    if mode == "local":
        return
    if not snapshot.exists:
        raise StartupRefused(
            "Missing config. Run `openclaw setup` or set gateway.mode=local "
            "(or pass --allow-unconfigured)."
        )
    if mode is None:
        raise StartupRefused(
            "Gateway start blocked: existing config is missing gateway.mode. Treat this as "
            "suspicious or clobbered config. Re-run `openclaw setup`, set gateway.mode=local "
            "manually, or pass --allow-unconfigured."
        )
    raise StartupRefused(
        f"Gateway start blocked: set gateway.mode=local (current: {mode}) or pass "
        "--allow-unconfigured."
    )


def check_exposure(bind: str, listen: tuple[ListenAddress, ...], auth: ResolvedAuth,
                   snapshot: ConfigSnapshot) -> None:
    """Refuse a non-loopback listener without a shared secret or a trusted proxy."""
    if all(is_loopback_host(a.host) for a in listen):
        return
    has_secret = (auth.mode == "token" and not auth.generated_token and _has_text(auth.token)) or (
        auth.mode == "password" and _has_text(auth.password)
    )
    if has_secret or auth.mode == "trusted-proxy":
        return
    raise StartupRefused(
        f"Refusing to bind gateway to {bind} without auth.\n"
        "Set gateway.auth.token/password (or OPENCLAW_GATEWAY_TOKEN/OPENCLAW_GATEWAY_PASSWORD) "
        "or pass --token/--password." + _miskey_hints(snapshot)
    )


def prepare_gateway(
    options: GatewayRunOptions,
    env: MutableMapping[str, str],
    *,
    tailnet_addresses: list[str] | None = None,
) -> GatewayPlan:
    """Resolve a gateway run or raise StartupRefused with the operator-facing reason.

    `env` is the process environment (or a test's copy): profiles fill defaults into it,
    never overriding what is already set, and `--token` is exported as upstream does.
    """
    try:
        apply_profile(env, profile=options.profile, dev=options.dev)
    except ProfileError as e:
        raise StartupRefused(str(e), EXIT_USAGE_ERROR) from None
    if options.port is not None and parse_port_text(options.port) is None:
        raise StartupRefused(f"Invalid --port. {port_range_hint()}", EXIT_USAGE_ERROR)
    if options.auth is not None and options.auth not in AUTH_MODES:
        raise StartupRefused(
            f"Invalid --auth. Use {format_mode_list(AUTH_MODES)}.", EXIT_USAGE_ERROR
        )
    if options.bind is not None and options.bind not in BIND_MODES:
        raise StartupRefused(
            f"Invalid --bind. Use {format_mode_list(BIND_MODES)}.", EXIT_USAGE_ERROR
        )
    paths = resolve_paths(env)
    try:
        snapshot = load_config(paths.config_path, env=env, home=paths.home)
    except ConfigError as e:
        raise StartupRefused(str(e)) from None
    for key, value in snapshot.env_additions.items():
        env.setdefault(key, value)
    port, port_source = resolve_port(options, env, snapshot)
    bind, bind_source = resolve_bind_mode(options, snapshot)
    check_start_guard(options, snapshot)
    if options.token:
        env["OPENCLAW_GATEWAY_TOKEN"] = options.token
    resolved = resolve_startup_secrets(options, env, snapshot, paths.home)
    auth = resolve_auth(options, env, snapshot, resolved)
    listen, warnings = resolve_listen_addresses(
        bind, snapshot.config.gateway.custom_bind_host, tailnet_addresses
    )
    check_exposure(bind, listen, auth, snapshot)
    return GatewayPlan(
        paths=paths,
        snapshot=snapshot,
        port=port,
        port_source=port_source,
        bind=bind,
        bind_source=bind_source,
        listen=listen,
        auth=auth,
        options=options,
        warnings=warnings + tuple(snapshot.warnings),
        single_instance_lock=env.get("OPENCLAW_ALLOW_MULTI_GATEWAY", "").strip().lower()
        not in ("1", "true", "yes", "on"),
        secrets=resolved,
    )


def resolve_startup_secrets(
    options: GatewayRunOptions, env: Mapping[str, str], snapshot: ConfigSnapshot, home: str
) -> SecretsSnapshot:
    """Resolve every active SecretRef now (blocking: before the reactor runs, or in a thread).

    Fail fast: one unresolvable ref refuses the start, naming the path and the ref.
    """
    from openclaw.secrets import SecretResolutionError, resolve_secrets_sync

    try:
        return resolve_secrets_sync(
            snapshot.parsed, env, home=home,
            flag_token=bool(options.token), flag_password=bool(options.password))
    except SecretResolutionError as e:
        raise StartupRefused(f"Startup failed: required secrets are unavailable. {e}") from None


def auth_settings_for(plan: GatewayPlan) -> AuthSettings:
    """The auth decision's inputs from the start-up plan (secrets already resolved)."""
    from openclaw.auth.decision import AuthSettings, TrustedProxySettings
    from openclaw.auth.ratelimit import RateLimitSettings

    gateway = plan.snapshot.config.gateway
    auth = gateway.auth
    trusted = auth.trusted_proxy
    limits = auth.rate_limit
    return AuthSettings(
        mode=plan.auth.mode,  # type: ignore[arg-type]
        token=plan.auth.token,
        password=plan.auth.password,
        trusted_proxy=(
            TrustedProxySettings(
                user_header=trusted.user_header,
                required_headers=trusted.required_headers,
                allow_users=trusted.allow_users,
                allow_loopback=trusted.allow_loopback,
            )
            if trusted is not None and trusted.user_header
            else None
        ),
        trusted_proxies=gateway.trusted_proxies,
        allow_real_ip_fallback=gateway.allow_real_ip_fallback,
        rate_limit=RateLimitSettings(
            max_attempts=int(limits.max_attempts),
            window_ms=int(limits.window_ms),
            lockout_ms=int(limits.lockout_ms),
            exempt_loopback=limits.exempt_loopback,
        ),
        allowed_origins=control_ui_allowed_origins(plan),
        allow_host_header_origin_fallback=(
            gateway.control_ui.dangerously_allow_host_header_origin_fallback
        ),
    )


NON_LOOPBACK_BINDS: Final = frozenset({"lan", "tailnet", "custom", "auto"})


def seeded_control_ui_origins(plan: GatewayPlan) -> tuple[str, ...] | None:
    """The local origins a non-loopback bind seeds when none are configured (runtime only,
    never written to the config): ``--bind lan --port 3000`` -> ``http://localhost:3000``
    and ``http://127.0.0.1:3000`` (plus ``http://<customBindHost>:3000`` for ``custom``), so
    the browser that opened the local UI is not refused. None: nothing to seed."""
    control_ui = plan.snapshot.config.gateway.control_ui
    if plan.bind not in NON_LOOPBACK_BINDS:
        return None
    if control_ui.dangerously_allow_host_header_origin_fallback or any(
            origin.strip() for origin in control_ui.allowed_origins):
        return None
    origins = [f"http://localhost:{plan.port}", f"http://127.0.0.1:{plan.port}"]
    custom = (plan.snapshot.config.gateway.custom_bind_host or "").strip()
    if plan.bind == "custom" and custom:
        origins.append(f"http://{custom}:{plan.port}")
    return tuple(dict.fromkeys(origins))


def control_ui_allowed_origins(plan: GatewayPlan) -> tuple[str, ...]:
    """``gateway.controlUi.allowedOrigins``, or the seeded local origins of a non-loopback
    bind that configured none."""
    seeded = seeded_control_ui_origins(plan)
    if seeded is not None:
        return seeded
    return plan.snapshot.config.gateway.control_ui.allowed_origins
