"""Which gateway a CLI command talks to, and with which credentials.

The rules of the real CLI (``src/gateway/connection-details.ts``, ``src/gateway/call.ts``):

* URL: ``--url`` ("cli --url") > ``$OPENCLAW_GATEWAY_URL`` ("env OPENCLAW_GATEWAY_URL") >
  ``gateway.remote.url`` when ``gateway.mode`` is ``remote`` ("config gateway.remote.url") >
  ``ws://127.0.0.1:<port>`` ("local loopback"; ``wss`` with ``gateway.tls.enabled``), where
  port = ``$OPENCLAW_GATEWAY_PORT`` > ``gateway.port`` > 18789 -- the same precedence the
  gateway itself binds with (``openclaw.gateway.startup.resolve_port`` without ``--port``).
* Credentials: flags first. With ``--url`` there is no fallback: no ``--token``/``--password``
  is an error before any socket opens. Otherwise local mode takes the token from
  ``$OPENCLAW_GATEWAY_TOKEN`` > ``gateway.auth.token`` > ``gateway.remote.token``; remote mode
  from ``gateway.remote.token`` > ``$OPENCLAW_GATEWAY_TOKEN`` > ``gateway.auth.token``
  (passwords alike).

The config is read by :class:`ClientConfig`, a light view that skips the typed schema: the
commands run on every operator keystroke and the full validated load costs ~0.2 s. For the
same reason the value types here are ``NamedTuple``s rather than attrs classes (attrs costs
~40 ms of imports and class generation on every CLI start; ``openclaw health --json`` has a
0.3 s budget).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

DEFAULT_PORT = 18789
PORT_ENV_VARS = ("OPENCLAW_GATEWAY_PORT", "CLAWDBOT_GATEWAY_PORT")
TOKEN_ENV_VARS = ("OPENCLAW_GATEWAY_TOKEN", "CLAWDBOT_GATEWAY_TOKEN")
PASSWORD_ENV_VARS = ("OPENCLAW_GATEWAY_PASSWORD", "CLAWDBOT_GATEWAY_PASSWORD")
URL_ENV_VAR = "OPENCLAW_GATEWAY_URL"

SOURCE_CLI_URL = "cli --url"
SOURCE_ENV_URL = "env OPENCLAW_GATEWAY_URL"
SOURCE_REMOTE_URL = "config gateway.remote.url"
SOURCE_LOCAL = "local loopback"
SOURCE_REMOTE_MISSING = "missing gateway.remote.url (fallback local)"
SOURCE_SERVICE = "service target"


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if not stripped or stripped in ("undefined", "null"):
        return None
    return stripped


def env_first(env: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = _clean(env.get(name))
        if value is not None:
            return value
    return None


def parse_port(raw: Any) -> int | None:
    """A TCP port from an int or a decimal string, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= 65535 else None
    if isinstance(raw, str) and raw.strip().isdigit():
        value = int(raw.strip())
        return value if 1 <= value <= 65535 else None
    return None


class ClientConfig(NamedTuple):
    """The parts of ``openclaw.json`` a client needs, read without the typed schema.

    ``document`` is the resolved document (``$include`` and ``${VAR}`` applied when the file
    uses them). A file that cannot be read or parsed yields an empty document and ``error``.
    """

    path: str
    exists: bool
    document: Mapping[str, Any] = {}
    error: str | None = None

    @classmethod
    def load(cls, path: str, env: Mapping[str, str], home: str) -> ClientConfig:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return cls(path=path, exists=False)
        except OSError as e:
            return cls(path=path, exists=True, error=f"Failed to read config file: {e.strerror}")
        text = data.decode("utf-8", "replace").lstrip("\ufeff")
        if "$include" not in text and "${" not in text:
            try:
                document = json.loads(text)
            except ValueError:
                pass
            else:
                if isinstance(document, dict):
                    return cls(path=path, exists=True, document=document)
                return cls(path=path, exists=True, error="Config root must be an object")
        return cls._load_json5(path, text, env, home)

    @classmethod
    def _load_json5(
        cls, path: str, text: str, env: Mapping[str, str], home: str
    ) -> ClientConfig:
        """JSON5, ``$include`` and ``${VAR}``: the config package's own pipeline stages."""
        from openclaw.config import ConfigError
        from openclaw.config.envvars import config_env_additions, substitute_env_vars
        from openclaw.config.includes import parse_include_roots, resolve_includes
        from openclaw.config.jsonfile import parse_json5

        try:
            document = parse_json5(text, path)
            included = resolve_includes(
                document, path, home=home,
                extra_roots=parse_include_roots(env.get("OPENCLAW_INCLUDE_ROOTS"), home),
            )
            document = included.value
            env_block = document.get("env") if isinstance(document, Mapping) else None
            additions, _warnings = config_env_additions(env_block, env)
            document, _missing = substitute_env_vars(document, {**env, **additions})
        except ConfigError as e:
            return cls(path=path, exists=True, error=str(e))
        except (OSError, ValueError) as e:
            return cls(path=path, exists=True, error=str(e))
        if not isinstance(document, dict):
            return cls(path=path, exists=True, error="Config root must be an object")
        return cls(path=path, exists=True, document=document)

    def get(self, dotted: str) -> Any:
        node: Any = self.document
        for key in dotted.split("."):
            if not isinstance(node, Mapping):
                return None
            node = node.get(key)
        return node

    @property
    def mode(self) -> str | None:
        return _clean(self.get("gateway.mode"))

    @property
    def bind(self) -> str:
        return _clean(self.get("gateway.bind")) or "loopback"

    @property
    def custom_bind_host(self) -> str | None:
        return _clean(self.get("gateway.customBindHost"))

    @property
    def tls_enabled(self) -> bool:
        return self.get("gateway.tls.enabled") is True

    @property
    def config_port(self) -> int | None:
        return parse_port(self.get("gateway.port"))

    def secret(self, dotted: str, env: Mapping[str, str]) -> str | None:
        """A plain string, or an ``{"source": "env", "id": NAME}`` SecretRef resolved from env."""
        value = self.get(dotted)
        if isinstance(value, Mapping) and value.get("source") == "env":
            return _clean(env.get(str(value.get("id") or "")))
        return _clean(value)


def resolve_local_port(env: Mapping[str, str], config: ClientConfig) -> tuple[int, str]:
    """Port of the local gateway and its source: env > ``gateway.port`` > the named
    profile's stable port > 18789 -- the port that profile's gateway listens on."""
    for name in PORT_ENV_VARS:
        port = parse_port(env.get(name))
        if port is not None:
            return port, "env/config"
    port = config.config_port
    if port is not None:
        return port, "env/config"
    from openclaw.config.profile_port import named_profile, profile_port

    profile = named_profile(env.get("OPENCLAW_PROFILE"))
    if profile is not None:
        return profile_port(profile), "profile"
    return DEFAULT_PORT, "env/config"


class ConnectionDetails(NamedTuple):
    """Where a command connects and why (printed under errors, as the real CLI does)."""

    url: str
    url_source: str
    config_path: str
    bind_detail: str | None = None
    remote_fallback_note: str | None = None

    @property
    def message(self) -> str:
        lines = [f"Gateway target: {self.url}", f"Source: {self.url_source}",
                 f"Config: {self.config_path}"]
        if self.bind_detail:
            lines.append(self.bind_detail)
        if self.remote_fallback_note:
            lines.append(self.remote_fallback_note)
        return "\n".join(lines)

    @property
    def is_local_loopback(self) -> bool:
        return self.url_source in (SOURCE_LOCAL, SOURCE_REMOTE_MISSING)


class GatewayTarget(NamedTuple):
    """A resolved connection: where, and the shared secret to present."""

    connection: ConnectionDetails
    token: str | None = None
    password: str | None = None
    explicit_url: bool = False

    def __repr__(self) -> str:  # never print the secrets
        return f"GatewayTarget(url={self.url!r}, source={self.connection.url_source!r})"

    @property
    def url(self) -> str:
        return self.connection.url


def is_loopback_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain", "127.0.0.1", "::1", "[::1]"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, url_source: str, config_path: str) -> str | None:
    """Why `url` must not be used, or None. Plaintext ws:// only to loopback/private hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return f'Invalid gateway URL "{url}" (use ws:// or wss://).'
    if parts.scheme == "ws" and not is_loopback_host(parts.hostname):
        import ipaddress

        try:
            private = ipaddress.ip_address(parts.hostname).is_private
        except ValueError:
            private = False
        if not private:
            return "\n".join([
                f'SECURITY ERROR: Gateway URL "{url}" uses plaintext ws:// to a non-loopback '
                "address.",
                "Both credentials and chat data would be exposed to network interception.",
                f"Source: {url_source}",
                f"Config: {config_path}",
                "Fix: Use wss:// for remote gateway URLs.",
            ])
    return None


def resolve_target(
    env: Mapping[str, str],
    config: ClientConfig,
    *,
    url: str | None = None,
    token: str | None = None,
    password: str | None = None,
    local_port: int | None = None,
    ignore_env_url: bool = False,
    service_url: str | None = None,
) -> GatewayTarget:
    """The connection a command uses (see the module docstring for the precedence).

    Raises :class:`~openclaw.client.errors.CredentialsRequiredError` for ``--url`` without
    explicit credentials and :class:`~openclaw.client.errors.GatewayUrlError` for an unusable
    URL.
    """
    from openclaw.client.errors import GatewayUrlError, url_override_credentials_error

    cli_url = _clean(url)
    service = _clean(service_url)
    env_url = None
    if cli_url is None and service is None and not ignore_env_url and local_port is None:
        env_url = _clean(env.get(URL_ENV_VAR))
    remote_mode = local_port is None and config.mode == "remote"
    remote_url = _clean(config.get("gateway.remote.url")) if remote_mode else None
    if local_port is None:
        local_port = resolve_local_port(env, config)[0]
    scheme = "wss" if config.tls_enabled else "ws"
    local_url = f"{scheme}://127.0.0.1:{local_port}"
    override = cli_url or env_url
    remote_missing = remote_mode and not override and not service and not remote_url
    if cli_url:
        source = SOURCE_CLI_URL
    elif env_url:
        source = SOURCE_ENV_URL
    elif service:
        source = SOURCE_SERVICE
    elif remote_url:
        source = SOURCE_REMOTE_URL
    elif remote_missing:
        source = SOURCE_REMOTE_MISSING
    else:
        source = SOURCE_LOCAL
    target_url = override or service or remote_url or local_url
    bind_detail = f"Bind: {config.bind}" if not override and (service or not remote_url) else None
    note = (
        "Warn: gateway.mode=remote but gateway.remote.url is missing; set gateway.remote.url "
        "or switch gateway.mode=local." if remote_missing else None
    )
    connection = ConnectionDetails(
        url=target_url, url_source=source, config_path=config.path,
        bind_detail=bind_detail, remote_fallback_note=note,
    )
    problem = check_url(target_url, source, config.path)
    if problem is not None and env.get("OPENCLAW_ALLOW_INSECURE_PRIVATE_WS") != "1":
        raise GatewayUrlError(problem)

    flag_token, flag_password = _clean(token), _clean(password)
    if cli_url:
        if flag_token is None and flag_password is None:
            raise url_override_credentials_error(config.path)
        return GatewayTarget(connection, flag_token, flag_password, explicit_url=True)
    if flag_token is not None or flag_password is not None:
        return GatewayTarget(connection, flag_token, flag_password)
    env_token = env_first(env, TOKEN_ENV_VARS)
    env_password = env_first(env, PASSWORD_ENV_VARS)
    auth_token = config.secret("gateway.auth.token", env)
    auth_password = config.secret("gateway.auth.password", env)
    remote_token = config.secret("gateway.remote.token", env)
    remote_password = config.secret("gateway.remote.password", env)
    if remote_mode and source != SOURCE_REMOTE_MISSING:
        chosen_token = remote_token or env_token or auth_token
        chosen_password = remote_password or env_password or auth_password
    else:
        chosen_token = env_token or auth_token or remote_token
        chosen_password = env_password or auth_password or remote_password
    auth_mode = _clean(config.get("gateway.auth.mode"))
    if auth_mode == "password" and chosen_password:
        chosen_token = None
    elif chosen_token:
        chosen_password = None
    return GatewayTarget(connection, chosen_token, chosen_password)


STATE_DIRNAME = ".openclaw"
LEGACY_STATE_DIRNAMES = (".clawdbot", ".moldbot", ".moltbot")
CONFIG_FILENAMES = ("openclaw.json", "clawdbot.json", "moldbot.json", "moltbot.json")


def _home(env: Mapping[str, str]) -> str:
    def os_home() -> str:
        home = _clean(env.get("HOME")) or _clean(env.get("USERPROFILE"))
        if home is None:
            home = os.path.expanduser("~")
            home = os.getcwd() if home == "~" else home
        return os.path.abspath(home)

    explicit = _clean(env.get("OPENCLAW_HOME"))
    if explicit is None:
        return os_home()
    if explicit == "~" or explicit.startswith(("~/", "~\\")):
        explicit = os_home() + explicit[1:]
    return os.path.abspath(explicit)


def _expand(path: str, home: str) -> str:
    trimmed = path.strip()
    if trimmed == "~" or trimmed.startswith(("~/", "~\\")):
        trimmed = home + trimmed[1:]
    return os.path.abspath(trimmed)


def client_paths(env: Mapping[str, str]) -> tuple[str, str, str]:
    """(home, state dir, config path) for this environment (profiles already applied).

    The rules of :func:`openclaw.config.paths.resolve_paths` (a test pins them equal),
    restated here because that module costs the attrs import on every CLI start.
    """
    def env_value(*names: str) -> str | None:
        for name in names:
            value = env.get(name)
            if value is not None and value.strip():
                return value.strip()
        return None

    home = _home(env)
    state_override = env_value("OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR")
    default_dirs = [os.path.join(home, STATE_DIRNAME)] + [
        os.path.join(home, name) for name in LEGACY_STATE_DIRNAMES]
    if state_override is not None:
        state_dir = _expand(state_override, home)
    else:
        state_dir = next((d for d in default_dirs if os.path.exists(d)), default_dirs[0])
    config_override = env_value("OPENCLAW_CONFIG_PATH", "CLAWDBOT_CONFIG_PATH")
    if config_override is not None:
        return home, state_dir, _expand(config_override, home)
    search = [state_dir] if state_override is not None else [state_dir, *default_dirs]
    candidates: list[str] = []
    for directory in search:
        for name in CONFIG_FILENAMES:
            candidate = os.path.join(directory, name)
            if candidate not in candidates:
                candidates.append(candidate)
    found = next((c for c in candidates if os.path.exists(c)), None)
    return home, state_dir, found or os.path.join(state_dir, CONFIG_FILENAMES[0])


def load_client_config(env: Mapping[str, str]) -> ClientConfig:
    home, _state, config_path = client_paths(env)
    return ClientConfig.load(config_path, env, home)
