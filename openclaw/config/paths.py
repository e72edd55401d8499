"""Where OpenClaw keeps its config and state: home, profiles, state dir, config file, port.

Everything here is a pure function of an environment mapping (plus, for legacy layouts, which
directories exist).  Nothing reads ``os.environ`` implicitly; the CLI passes ``os.environ``
at the very edge.  Rules follow the real 2026.9 gateway (``src/config/paths.ts``,
``src/cli/profile.ts``, ``src/infra/home-dir.ts``):

* home: ``$OPENCLAW_HOME`` (``~`` expanded against the OS home) else ``$HOME`` else
  ``$USERPROFILE`` else the OS account home.  Blank, ``"undefined"`` and ``"null"`` are unset.
* state dir: ``$OPENCLAW_STATE_DIR`` (legacy ``$CLAWDBOT_STATE_DIR``) else ``<home>/.openclaw``
  if it exists, else the first existing legacy dir (``.clawdbot``, ``.moldbot``, ``.moltbot``),
  else ``<home>/.openclaw``.
* config: ``$OPENCLAW_CONFIG_PATH`` (legacy ``$CLAWDBOT_CONFIG_PATH``), never probed; else the
  first existing ``openclaw.json``/legacy name in the state dir (and, without a state-dir
  override, in ``~/.openclaw`` and the legacy dirs); else ``<state>/openclaw.json``.
* profiles (``--profile <name>``, ``--dev``): fill ``OPENCLAW_STATE_DIR``/``OPENCLAW_CONFIG_PATH``
  (and port 19001 for ``dev``) without overriding explicit values.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Mapping, MutableMapping

import attrs

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_PORT",
    "DEV_BASE_PORT",
    "DEV_PROFILE",
    "OpenClawPaths",
    "ProfileError",
    "apply_profile",
    "expand_home",
    "is_valid_profile_name",
    "lock_file_path",
    "normalize_profile_name",
    "parse_port",
    "profile_state_dir",
    "resolve_gateway_port",
    "resolve_home",
    "resolve_paths",
]

DEFAULT_PORT = 18789
DEV_BASE_PORT = 19001
DEV_PROFILE = "dev"
CONFIG_FILENAME = "openclaw.json"
STATE_DIRNAME = ".openclaw"
LEGACY_STATE_DIRNAMES = (".clawdbot", ".moldbot", ".moltbot")
LEGACY_CONFIG_FILENAMES = ("clawdbot.json", "moldbot.json", "moltbot.json")

PROFILE_NAME_ERROR = 'Invalid --profile (use letters, numbers, "_", "-" only)'
PROFILE_REQUIRES_VALUE = "--profile requires a value"
DEV_WITH_PROFILE_ERROR = "Cannot combine --dev with --profile"

_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$", re.IGNORECASE)

PathExists = Callable[[str], bool]


class ProfileError(ValueError):
    """A bad ``--profile``/``--dev`` combination; ``str()`` is the real CLI's message."""


def _clean(value: str | None) -> str | None:
    """Env values that count as unset: missing, blank, and the strings "undefined"/"null"."""
    if value is None:
        return None
    trimmed = value.strip()
    if not trimmed or trimmed in ("undefined", "null"):
        return None
    return trimmed


def _env_value(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def _os_home(env: Mapping[str, str]) -> str:
    home = _clean(env.get("HOME")) or _clean(env.get("USERPROFILE"))
    if home is None:
        # Only reached when the environment has no HOME at all (daemons, sudo -i ...).
        home = os.path.expanduser("~")
        if home == "~":
            home = os.getcwd()
    return os.path.abspath(home)


def resolve_home(env: Mapping[str, str]) -> str:
    """The directory ``~`` means: ``$OPENCLAW_HOME`` (itself ``~``-expandable) or the OS home."""
    explicit = _clean(env.get("OPENCLAW_HOME"))
    if explicit is None:
        return _os_home(env)
    if explicit == "~" or explicit.startswith(("~/", "~\\")):
        explicit = _os_home(env) + explicit[1:]
    return os.path.abspath(explicit)


def expand_home(path: str, home: str) -> str:
    """Expand a leading ``~`` (alone or followed by a separator) against ``home``; absolute.

    ``~user`` forms are not expanded (the real gateway does not either); relative paths are
    made absolute against the current directory.
    """
    trimmed = path.strip()
    if trimmed == "~" or trimmed.startswith(("~/", "~\\")):
        trimmed = home + trimmed[1:]
    return os.path.abspath(trimmed)


def is_valid_profile_name(name: str) -> bool:
    """Letters, digits, ``_`` and ``-``; starts with a letter or digit; at most 64 chars."""
    return bool(_PROFILE_NAME.match(name))


def normalize_profile_name(raw: str | None) -> str | None:
    """The named profile in effect, or None for no profile / ``default`` / an invalid name."""
    profile = _clean(raw)
    if profile is None or profile.lower() == "default" or not is_valid_profile_name(profile):
        return None
    return profile


def profile_state_dir(profile: str, home: str) -> str:
    """``~/.openclaw`` for the default profile, ``~/.openclaw-<name>`` otherwise."""
    name = profile.strip()
    if not is_valid_profile_name(name):
        raise ProfileError(PROFILE_NAME_ERROR)
    suffix = "" if name.lower() == "default" else f"-{name}"
    return os.path.join(home, STATE_DIRNAME + suffix)


def apply_profile(env: MutableMapping[str, str], *, profile: str | None, dev: bool) -> str | None:
    """Apply the root ``--profile``/``--dev`` flags to ``env`` (mutated); return the profile.

    Only fills defaults, never overrides a value that is already set:

    * ``OPENCLAW_STATE_DIR`` <- ``~/.openclaw-<name>`` (``default`` -> ``~/.openclaw``);
    * ``OPENCLAW_CONFIG_PATH`` <- ``<state dir>/openclaw.json`` (the state dir in effect, so an
      explicit ``OPENCLAW_STATE_DIR`` keeps its config next to it);
    * ``dev`` only: ``OPENCLAW_GATEWAY_PORT`` <- ``19001``.

    ``OPENCLAW_PROFILE`` is set to the selected profile: the flag is the operator's explicit
    choice and the variable only records which profile is active (as in the real CLI).
    Without flags nothing changes and the active ``OPENCLAW_PROFILE`` (if any) is returned.
    Raises :class:`ProfileError` for an invalid name or ``--dev`` with another ``--profile``.
    """
    if dev:
        if profile is not None and profile.strip() != DEV_PROFILE:
            raise ProfileError(DEV_WITH_PROFILE_ERROR)
        profile = DEV_PROFILE
    if profile is None:
        return _clean(env.get("OPENCLAW_PROFILE"))
    selected = profile.strip()
    if not selected:
        raise ProfileError(PROFILE_REQUIRES_VALUE)
    if not is_valid_profile_name(selected):
        raise ProfileError(PROFILE_NAME_ERROR)

    home = resolve_home(env)
    env["OPENCLAW_PROFILE"] = selected
    state_dir = _clean(env.get("OPENCLAW_STATE_DIR"))
    if state_dir is None:
        state_dir = profile_state_dir(selected, home)
        env["OPENCLAW_STATE_DIR"] = state_dir
    if _clean(env.get("OPENCLAW_CONFIG_PATH")) is None:
        env["OPENCLAW_CONFIG_PATH"] = os.path.join(expand_home(state_dir, home), CONFIG_FILENAME)
    if selected == DEV_PROFILE and _clean(env.get("OPENCLAW_GATEWAY_PORT")) is None:
        env["OPENCLAW_GATEWAY_PORT"] = str(DEV_BASE_PORT)
    return selected


@attrs.frozen
class OpenClawPaths:
    """The resolved locations for one process.  Build it with :func:`resolve_paths`."""

    home: str
    state_dir: str
    config_path: str
    profile: str | None
    workspace_override: str | None = None
    uid: int | None = attrs.field(factory=lambda: os.getuid() if hasattr(os, "getuid") else None)

    @property
    def log_dir(self) -> str:
        """``<state>/logs``: supervisor logs, config audit."""
        return os.path.join(self.state_dir, "logs")

    @property
    def env_file(self) -> str:
        """``<state>/.env``: the global dotenv fallback."""
        return os.path.join(self.state_dir, ".env")

    @property
    def config_dir(self) -> str:
        """The directory holding the config file (the ``$include`` confinement root)."""
        return os.path.dirname(self.config_path)

    @property
    def default_workspace(self) -> str:
        """Default agent workspace (2026.9 rule).

        ``$OPENCLAW_WORKSPACE_DIR`` if set, else ``<state>/workspace``: ``~/.openclaw/workspace``
        for the default install, ``~/.openclaw-<profile>/workspace`` for a named profile.
        """
        if self.workspace_override:
            return self.workspace_override
        return os.path.join(self.state_dir, "workspace")

    @property
    def lock_dir(self) -> str:
        """Gateway lock directory: ``<state>/tmp/openclaw-<uid>`` (2026.9 layout).

        Lock files live inside the state tree, so an overridden state dir owns its own locks.
        """
        suffix = f"openclaw-{self.uid}" if self.uid is not None else "openclaw"
        return os.path.join(self.state_dir, "tmp", suffix)

    @property
    def legacy_lock_dir(self) -> str:
        """Pre-2026.9 lock directory ``<tmpdir>/openclaw-<uid>``, for stale-lock cleanup."""
        suffix = f"openclaw-{self.uid}" if self.uid is not None else "openclaw"
        return os.path.join(tempfile.gettempdir(), suffix)

    @property
    def credentials_dir(self) -> str:
        """``<state>/credentials`` (channel/provider state)."""
        return os.path.join(self.state_dir, "credentials")

    def agent_dir(self, agent_id: str) -> str:
        """Default per-agent directory ``<state>/agents/<id>/agent``."""
        return os.path.join(self.state_dir, "agents", agent_id, "agent")

    def sessions_dir(self, agent_id: str) -> str:
        """Default per-agent session directory ``<state>/agents/<id>/sessions``."""
        return os.path.join(self.state_dir, "agents", agent_id, "sessions")


def lock_file_path(paths: OpenClawPaths) -> str:
    """The per-config lock file ``<lock_dir>/gateway.<sha1(config_path)[:8]>.lock``."""
    digest = hashlib.sha1(paths.config_path.encode("utf-8"), usedforsecurity=False).hexdigest()
    return os.path.join(paths.lock_dir, f"gateway.{digest[:8]}.lock")


def _first_existing(candidates: list[str], exists: PathExists) -> str | None:
    for candidate in candidates:
        try:
            if exists(candidate):
                return candidate
        except OSError:
            continue
    return None


def resolve_paths(env: Mapping[str, str], *, exists: PathExists = os.path.exists) -> OpenClawPaths:
    """Resolve home, state dir, config path and profile from ``env``.

    Explicit env paths are used as given (``~``-expanded, made absolute), never probed.
    ``exists`` is only consulted for default/legacy layouts; tests pass a fake.
    """
    home = resolve_home(env)
    state_override = _env_value(env, "OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR")
    default_dirs = [os.path.join(home, STATE_DIRNAME)] + [
        os.path.join(home, name) for name in LEGACY_STATE_DIRNAMES
    ]
    if state_override is not None:
        state_dir = expand_home(state_override, home)
    else:
        state_dir = _first_existing(default_dirs, exists) or default_dirs[0]

    config_override = _env_value(env, "OPENCLAW_CONFIG_PATH", "CLAWDBOT_CONFIG_PATH")
    if config_override is not None:
        config_path = expand_home(config_override, home)
    else:
        search_dirs = [state_dir] if state_override is not None else [state_dir, *default_dirs]
        names = (CONFIG_FILENAME, *LEGACY_CONFIG_FILENAMES)
        candidates: list[str] = []
        for directory in search_dirs:
            for name in names:
                candidate = os.path.join(directory, name)
                if candidate not in candidates:
                    candidates.append(candidate)
        config_path = _first_existing(candidates, exists) or os.path.join(
            state_dir, CONFIG_FILENAME
        )

    workspace = _env_value(env, "OPENCLAW_WORKSPACE_DIR")
    return OpenClawPaths(
        home=home,
        state_dir=state_dir,
        config_path=config_path,
        profile=normalize_profile_name(env.get("OPENCLAW_PROFILE")),
        workspace_override=expand_home(workspace, home) if workspace else None,
    )


def parse_port(raw: str | None) -> int | None:
    """A TCP port from ``"18789"``, ``"host:18789"`` or ``"[::1]:18789"``; None if invalid."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    match = re.match(r"^\[[^\]]+\]:(\d+)$", text)
    if match:
        text = match.group(1)
    elif not text.isdigit():
        if text.count(":") != 1 or text.index(":") == 0:
            return None
        text = text.split(":", 1)[1]
    if not text.isascii() or not text.isdigit():
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def _profile_port(profile: str) -> int:
    # Each named profile gets a stable port in 20000..59999 (the clients derive the same).
    from openclaw.config.profile_port import profile_port

    return profile_port(profile)


def resolve_gateway_port(
    env: Mapping[str, str], config_port: int | None, cli_port: int | None = None
) -> int:
    """Effective listen port.

    ``--port`` > ``$OPENCLAW_GATEWAY_PORT`` (legacy ``$CLAWDBOT_GATEWAY_PORT``) > ``gateway.port``
    > a stable per-profile port for named profiles (2026.9) > ``18789``.  Env values that do
    not parse as a port are ignored.
    """
    if cli_port is not None:
        return cli_port
    for name in ("OPENCLAW_GATEWAY_PORT", "CLAWDBOT_GATEWAY_PORT"):
        port = parse_port(env.get(name))
        if port is not None:
            return port
    if config_port is not None and config_port > 0:
        return config_port
    profile = normalize_profile_name(env.get("OPENCLAW_PROFILE"))
    if profile is not None:
        return _profile_port(profile)
    return DEFAULT_PORT
