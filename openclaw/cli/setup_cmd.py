"""``openclaw setup`` and ``openclaw --dev setup``: a local-mode config and its workspace.

Creates ``<state>/openclaw.json`` (``gateway.mode=local``, loopback, token auth with a
generated token, ``agents.defaults.workspace``) and the workspace with its bootstrap files,
when they do not exist yet; an existing config and existing files are never touched, so it is
safe to run again. ``--dev`` (the root flag) does the same for the dev profile
(``~/.openclaw-dev``, port 19001) and adds the dev agent of ``openclaw gateway --dev``
(``C3-PO``, bootstrap skipped) in the 2026.9 ``agents.entries`` shape.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import MutableMapping
from typing import Any

from openclaw.atomic_files import atomic_write_bytes
from openclaw.cli.options import JSON, Command, Option, run_parse

SETUP = Command(
    usage="openclaw [--profile NAME | --dev] setup [options]",
    description=(
        "Create <state>/openclaw.json (gateway.mode=local, token auth with a generated token)\n"
        "and the agent workspace, if they do not exist yet. Existing files are left as they are."
    ),
    options=(Option("--workspace", "Agent workspace directory", "<dir>"), JSON),
)

WORKSPACE_FILES: dict[str, str] = {
    "AGENTS.md": "# Agents\n\nHow the agents in this workspace work together.\n",
    "SOUL.md": "# Soul\n\nWho the assistant is: tone, values, boundaries.\n",
    "TOOLS.md": "# Tools\n\nNotes about the tools available in this workspace.\n",
    "IDENTITY.md": "# Identity\n\nName, theme and emoji of the assistant.\n",
    "USER.md": "# User\n\nWhat the assistant should know about you.\n",
}
DEV_IDENTITY = {"name": "C3-PO", "theme": "protocol droid", "emoji": "\U0001f916"}
DEV_PORT = 19001


def initial_config(workspace: str, *, dev: bool) -> dict[str, Any]:
    gateway: dict[str, Any] = {
        "mode": "local",
        "bind": "loopback",
        "auth": {"mode": "token", "token": secrets.token_hex(24)},
    }
    agents: dict[str, Any] = {"defaults": {"workspace": workspace}}
    if dev:
        gateway["port"] = DEV_PORT
        agents["defaults"]["skipBootstrap"] = True
        agents["entries"] = {
            "dev": {"default": True, "workspace": workspace, "identity": dict(DEV_IDENTITY)}
        }
    return {"gateway": gateway, "agents": agents}


def seed_workspace(workspace: str) -> list[str]:
    """Create the workspace and any missing bootstrap file; return the files created."""
    os.makedirs(workspace, mode=0o700, exist_ok=True)
    created = []
    for name, text in WORKSPACE_FILES.items():
        path = os.path.join(workspace, name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        created.append(name)
    return created


def setup_command(args: list[str], env: MutableMapping[str, str], *, profile: object,
                  dev: bool) -> int:
    parsed = run_parse(SETUP, args)
    if isinstance(parsed, int):
        return parsed
    values, _ = parsed
    from openclaw.config import ProfileError, apply_profile, resolve_paths
    from openclaw.config.paths import expand_home

    try:
        active = apply_profile(env, profile=str(profile) if profile else None, dev=dev)
    except ProfileError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    dev_profile = active == "dev"
    paths = resolve_paths(env)
    workspace = values.get("workspace")
    workspace = (os.path.abspath(expand_home(workspace, paths.home)) if workspace
                 else paths.default_workspace)
    os.makedirs(paths.state_dir, mode=0o700, exist_ok=True)
    created_config = not os.path.exists(paths.config_path)
    if created_config:
        os.makedirs(os.path.dirname(paths.config_path), mode=0o700, exist_ok=True)
        config = initial_config(workspace, dev=dev_profile)
        text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
        atomic_write_bytes(paths.config_path, text.encode("utf-8"))
    seeded = seed_workspace(workspace)
    if values["json"]:
        from openclaw.cli.common import write_json

        write_json({"ok": True, "configPath": paths.config_path, "configCreated": created_config,
                    "workspace": workspace, "workspaceFilesCreated": seeded,
                    "profile": active or "default"})
        return 0
    prefix = "Dev " if dev_profile else ""
    if created_config:
        sys.stdout.write(f"{prefix}Config ready: {paths.config_path} (token in "
                         "gateway.auth.token)\n")
    else:
        sys.stdout.write(f"Config already exists: {paths.config_path}\n")
    sys.stdout.write(f"{prefix}Workspace ready: {workspace}\n")
    return 0
