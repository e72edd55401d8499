"""Load ``openclaw.json``: read, JSON5, ``$include``, ``env`` block, ``${VAR}``, migrate, validate.

The pipeline of the real gateway (``src/config/io.ts``), minus file writes:

1. missing file -> empty config, every default applies (not an error);
2. read the raw bytes, ``hash`` = sha256 of them (the ``baseHash`` of config write RPCs);
3. JSON5-parse (errors name the file, line and column);
4. resolve ``$include`` (see :mod:`openclaw.config.includes`);
5. the ``env`` block fills missing variables of a *copy* of the environment;
6. ``${VAR}`` substitution against that copy (missing/empty variables are errors);
7. legacy keys are migrated in memory (:mod:`openclaw.config.migrations`);
8. strict validation into :class:`~openclaw.config.schema.OpenClawConfig`;
9. warnings: ``gateway.token`` miskey, config written by a newer OpenClaw, migrations.

Every problem found in steps 6-8 is collected and raised together as one
:class:`~openclaw.config.errors.ConfigError`.  Loading does blocking file I/O: call it at
startup or from a thread (``deferToThread``), never on the reactor thread.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from openclaw import __version__
from openclaw.config.errors import (
    ConfigError,
    ConfigIssue,
    MissingEnvVarError,
    PathSegment,
    format_config_path,
)
from openclaw.config.fields import ConversionContext, settings_of
from openclaw.config.frozen import FrozenDict, freeze
from openclaw.config.jsonfile import decode_config_bytes, parse_json5

if TYPE_CHECKING:
    from openclaw.config.schema import OpenClawConfig

__all__ = ["ConfigSnapshot", "load_config", "parse_config_text"]

MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024
GATEWAY_TOKEN_WARNING = (
    'Config uses "gateway.token". This key is ignored; use "gateway.auth.token" instead.'
)


@attrs.frozen
class ConfigSnapshot:
    """One successfully loaded config file.

    ``parsed`` is the resolved document (after ``$include``, ``${VAR}`` and legacy
    migrations), deeply immutable (:class:`~openclaw.config.frozen.FrozenDict`); use
    :func:`~openclaw.config.frozen.thaw` for an editable copy.  ``config`` is the typed view of
    the implemented sections.  ``raw``/``hash`` are ``None`` when the file does not exist.
    """

    path: str
    exists: bool
    raw: str | None
    hash: str | None
    parsed: Mapping[str, Any]
    config: OpenClawConfig
    unsupported: tuple[str, ...] = ()
    """Dotted paths of real OpenClaw keys present in the file that are not implemented yet."""
    warnings: tuple[str, ...] = ()
    env_additions: Mapping[str, str] = attrs.field(factory=FrozenDict)
    """Variables the ``env`` block supplied (missing from the environment); export them."""
    included_files: tuple[str, ...] = ()
    """Absolute paths of every ``$include``d file (watch them for reloads)."""


def _issue_file(provenance: Any, path: Sequence[PathSegment], main_file: str) -> str:
    return provenance.file_for(path) if provenance is not None else main_file


def _read_config_bytes(path: str) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ENOTDIR:
            return None
        raise ConfigError(
            path, [ConfigIssue("<root>", f"Failed to read config file: {error.strerror}", path)]
        ) from None
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                path,
                [ConfigIssue("<root>", "The config path must be a regular file", path)],
            )
        if info.st_size > MAX_CONFIG_FILE_BYTES:
            raise ConfigError(
                path,
                [
                    ConfigIssue(
                        "<root>",
                        f"The config file is larger than {MAX_CONFIG_FILE_BYTES} bytes",
                        path,
                    )
                ],
            )
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as error:
        raise ConfigError(
            path, [ConfigIssue("<root>", f"Failed to read config file: {error.strerror}", path)]
        ) from None
    finally:
        os.close(fd)


def load_config(
    path: str,
    *,
    env: Mapping[str, str],
    home: str,
    current_version: str = __version__,
) -> ConfigSnapshot:
    """Load and validate the config file at ``path`` (``~`` expands against ``home``).

    ``env`` is only read.  Raises :class:`ConfigError` (or a subclass) listing every issue.
    """
    from openclaw.config.paths import expand_home

    config_path = expand_home(path, home)
    data = _read_config_bytes(config_path)
    if data is None:
        from openclaw.config.schema import OpenClawConfig

        return ConfigSnapshot(
            path=config_path,
            exists=False,
            raw=None,
            hash=None,
            parsed=FrozenDict(),
            config=OpenClawConfig(),
        )
    digest = hashlib.sha256(data).hexdigest()
    raw = decode_config_bytes(data, config_path)
    return parse_config_text(
        raw,
        config_path,
        env=env,
        home=home,
        current_version=current_version,
        hash=digest,
    )


def parse_config_text(
    raw: str,
    path: str,
    *,
    env: Mapping[str, str],
    home: str,
    current_version: str = __version__,
    hash: str | None = None,
) -> ConfigSnapshot:
    """Run the load pipeline on ``raw`` as if it were the content of ``path``.

    Used by :func:`load_config` and by config write RPCs to validate a candidate before it
    is written (``$include`` paths resolve relative to ``path``).
    """
    from openclaw.config.envvars import config_env_additions, substitute_env_vars
    from openclaw.config.includes import parse_include_roots, resolve_includes
    from openclaw.config.migrations import apply_legacy_migrations
    from openclaw.config.schema import ROOT_SPEC, OpenClawConfig

    config_path = os.path.abspath(path)
    if hash is None:
        hash = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    document = parse_json5(raw, config_path)
    included = resolve_includes(
        document,
        config_path,
        home=home,
        extra_roots=parse_include_roots(env.get("OPENCLAW_INCLUDE_ROOTS"), home),
    )
    document = included.value
    warnings: list[str] = []

    env_block = document.get("env") if isinstance(document, Mapping) else None
    additions, env_warnings = config_env_additions(env_block, env)
    warnings.extend(env_warnings)
    working_env = {**env, **additions}
    document, missing = substitute_env_vars(document, working_env)

    issues: list[ConfigIssue] = [
        ConfigIssue(
            format_config_path(ref.path),
            ref.message,
            _issue_file(included, ref.path, config_path),
        )
        for ref in missing
    ]

    if isinstance(document, dict):
        gateway = document.get("gateway")
        if isinstance(gateway, Mapping) and "token" in gateway:
            warnings.append(GATEWAY_TOKEN_WARNING)
        migration = apply_legacy_migrations(document)
        warnings.extend(migration.warnings)
        issues.extend(
            ConfigIssue(format_config_path(p), message, _issue_file(included, p, config_path))
            for p, message in migration.issues
        )

    ctx = ConversionContext()
    config = ROOT_SPEC.convert(document, (), ctx)
    # A value with an unresolved ${VAR} is unknown, not wrong: report only the missing var.
    unresolved = {ref.path for ref in missing}
    for issue in ctx.issues:
        if issue.path in unresolved:
            continue
        issues.append(
            ConfigIssue(
                format_config_path(issue.path),
                issue.message,
                _issue_file(included, issue.path, config_path),
            )
        )
    if isinstance(config, OpenClawConfig):
        issues.extend(_duplicate_agent_dir_issues(config, env, home, config_path))
    if issues:
        if all(issue.message.startswith("Missing env var ") for issue in issues):
            raise MissingEnvVarError(config_path, issues)
        raise ConfigError(config_path, issues)

    assert isinstance(config, OpenClawConfig) and isinstance(document, dict)
    known = {meta.key for _field, meta in settings_of(OpenClawConfig)}
    extra = FrozenDict({key: freeze(value) for key, value in document.items() if key not in known})
    config = attrs.evolve(config, extra=extra)

    touched = config.meta.last_touched_version
    if touched:
        from openclaw.config.versions import should_warn_on_touched_version

        if should_warn_on_touched_version(current_version, touched):
            warnings.append(
                f"Your OpenClaw config was written by version {touched}, but this command is "
                f"running {current_version}.\n"
                "Check: `openclaw --version`, `which openclaw`, and "
                "`openclaw gateway status --deep`.\n"
                "If unexpected, update PATH so `openclaw` points to the version you want, or "
                "reinstall the Gateway service from that same OpenClaw install."
            )

    unsupported = sorted(set(ctx.formatted_unsupported()))
    return ConfigSnapshot(
        path=config_path,
        exists=True,
        raw=raw,
        hash=hash,
        parsed=freeze(document),
        config=config,
        unsupported=tuple(unsupported),
        warnings=tuple(warnings),
        env_additions=FrozenDict(additions),
        included_files=included.files,
    )


def _duplicate_agent_dir_issues(
    config: OpenClawConfig, env: Mapping[str, str], home: str, config_path: str
) -> list[ConfigIssue]:
    from openclaw.config.paths import expand_home, resolve_paths

    entries = config.agents.entries
    if len(entries) < 2 or not any(entry.agent_dir for entry in entries.values()):
        return []
    state_dir = resolve_paths({**env, "OPENCLAW_HOME": home}).state_dir
    by_dir: dict[str, list[str]] = {}
    for agent_id, entry in entries.items():
        directory = (
            expand_home(entry.agent_dir, home)
            if entry.agent_dir
            else os.path.join(state_dir, "agents", agent_id, "agent")
        )
        by_dir.setdefault(os.path.normcase(os.path.normpath(directory)), []).append(agent_id)
    issues = []
    for directory, agent_ids in by_dir.items():
        if len(agent_ids) > 1:
            owners = ", ".join(f'"{agent_id}"' for agent_id in agent_ids)
            issues.append(
                ConfigIssue(
                    "agents.entries",
                    f"Duplicate agentDir detected (multi-agent config): {directory} is shared by "
                    f"{owners}; each agent must have a unique agentDir (remove the shared "
                    "agents.entries.*.agentDir override or give each agent its own directory)",
                    config_path,
                )
            )
    return issues
