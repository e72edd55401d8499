"""OpenClaw configuration: paths and profiles, JSON5 loading, the typed schema, redaction.

Typical startup (the CLI does this)::

    env = dict(os.environ)
    apply_profile(env, profile=args.profile, dev=args.dev)
    paths = resolve_paths(env)
    load_dotenv_files(env, os.getcwd(), paths.state_dir, home=paths.home)
    snapshot = load_config(paths.config_path, env=env, home=paths.home)   # raises ConfigError
    config = snapshot.config

Importing this package is cheap: names are imported from their modules on first use
(PEP 562), nothing imports Twisted, and the upstream key tree and the JSON5 parser load only
when a config is actually read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openclaw.config.envvars import (
        DotenvLoad,
        load_dotenv_files,
        parse_dotenv,
        substitute_env_vars,
    )
    from openclaw.config.errors import (
        CircularIncludeError,
        ConfigError,
        ConfigIncludeError,
        ConfigIssue,
        ConfigParseError,
        MissingEnvVarError,
        format_config_path,
    )
    from openclaw.config.frozen import FrozenDict, FrozenList, freeze, thaw
    from openclaw.config.includes import deep_merge
    from openclaw.config.loader import ConfigSnapshot, load_config, parse_config_text
    from openclaw.config.paths import (
        DEFAULT_PORT,
        DEV_BASE_PORT,
        OpenClawPaths,
        ProfileError,
        apply_profile,
        expand_home,
        resolve_gateway_port,
        resolve_home,
        resolve_paths,
    )
    from openclaw.config.redact import (
        REDACTED_SENTINEL,
        redact_config,
        redact_raw,
        restore_redacted,
    )
    from openclaw.config.schema import (
        AgentDefaultsConfig,
        AgentEntryConfig,
        AgentsConfig,
        DiagnosticsConfig,
        GatewayAuthConfig,
        GatewayConfig,
        LocalServiceConfig,
        LoggingConfig,
        MemoryConfig,
        MemorySearchConfig,
        ModelProviderConfig,
        ModelsConfig,
        ModelSelection,
        OpenClawConfig,
        SecretRef,
        config_json_schema,
    )

_EXPORTS: dict[str, str] = {
    "DotenvLoad": "openclaw.config.envvars",
    "load_dotenv_files": "openclaw.config.envvars",
    "parse_dotenv": "openclaw.config.envvars",
    "substitute_env_vars": "openclaw.config.envvars",
    "CircularIncludeError": "openclaw.config.errors",
    "ConfigError": "openclaw.config.errors",
    "ConfigIncludeError": "openclaw.config.errors",
    "ConfigIssue": "openclaw.config.errors",
    "ConfigParseError": "openclaw.config.errors",
    "MissingEnvVarError": "openclaw.config.errors",
    "format_config_path": "openclaw.config.errors",
    "FrozenDict": "openclaw.config.frozen",
    "FrozenList": "openclaw.config.frozen",
    "freeze": "openclaw.config.frozen",
    "thaw": "openclaw.config.frozen",
    "deep_merge": "openclaw.config.includes",
    "ConfigSnapshot": "openclaw.config.loader",
    "load_config": "openclaw.config.loader",
    "parse_config_text": "openclaw.config.loader",
    "DEFAULT_PORT": "openclaw.config.paths",
    "DEV_BASE_PORT": "openclaw.config.paths",
    "OpenClawPaths": "openclaw.config.paths",
    "ProfileError": "openclaw.config.paths",
    "apply_profile": "openclaw.config.paths",
    "expand_home": "openclaw.config.paths",
    "resolve_gateway_port": "openclaw.config.paths",
    "resolve_home": "openclaw.config.paths",
    "resolve_paths": "openclaw.config.paths",
    "REDACTED_SENTINEL": "openclaw.config.redact",
    "redact_config": "openclaw.config.redact",
    "redact_raw": "openclaw.config.redact",
    "restore_redacted": "openclaw.config.redact",
    "AgentDefaultsConfig": "openclaw.config.schema",
    "AgentEntryConfig": "openclaw.config.schema",
    "AgentsConfig": "openclaw.config.schema",
    "GatewayAuthConfig": "openclaw.config.schema",
    "GatewayConfig": "openclaw.config.schema",
    "LocalServiceConfig": "openclaw.config.schema",
    "DiagnosticsConfig": "openclaw.config.schema",
    "LoggingConfig": "openclaw.config.schema",
    "MemoryConfig": "openclaw.config.schema",
    "MemorySearchConfig": "openclaw.config.schema",
    "ModelProviderConfig": "openclaw.config.schema",
    "ModelSelection": "openclaw.config.schema",
    "ModelsConfig": "openclaw.config.schema",
    "OpenClawConfig": "openclaw.config.schema",
    "SecretRef": "openclaw.config.schema",
    "config_json_schema": "openclaw.config.schema",
}

__all__ = [
    "DEFAULT_PORT",
    "DEV_BASE_PORT",
    "REDACTED_SENTINEL",
    "AgentDefaultsConfig",
    "AgentEntryConfig",
    "AgentsConfig",
    "CircularIncludeError",
    "ConfigError",
    "ConfigIncludeError",
    "ConfigIssue",
    "ConfigParseError",
    "ConfigSnapshot",
    "DiagnosticsConfig",
    "DotenvLoad",
    "FrozenDict",
    "FrozenList",
    "GatewayAuthConfig",
    "GatewayConfig",
    "LocalServiceConfig",
    "LoggingConfig",
    "MemoryConfig",
    "MemorySearchConfig",
    "MissingEnvVarError",
    "ModelProviderConfig",
    "ModelSelection",
    "ModelsConfig",
    "OpenClawConfig",
    "OpenClawPaths",
    "ProfileError",
    "SecretRef",
    "apply_profile",
    "config_json_schema",
    "deep_merge",
    "expand_home",
    "format_config_path",
    "freeze",
    "load_config",
    "load_dotenv_files",
    "parse_config_text",
    "parse_dotenv",
    "redact_config",
    "redact_raw",
    "resolve_gateway_port",
    "resolve_home",
    "resolve_paths",
    "restore_redacted",
    "substitute_env_vars",
    "thaw",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
