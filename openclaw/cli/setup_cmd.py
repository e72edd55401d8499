"""`openclaw setup`: a local-mode config with a generated token, and the workspace. Idempotent."""

from __future__ import annotations

import json
import os
import secrets
import sys
import tempfile
from collections.abc import MutableMapping

SETUP_USAGE = """\
Usage: openclaw [--profile NAME | --dev] setup

Create <state>/openclaw.json (gateway.mode=local, token auth with a generated token) and the
agent workspace, if they do not exist yet. Existing files are left as they are.
"""


def write_private_file(path: str, text: str) -> None:
    """Atomically create `path` with mode 0600 (temp file + fsync + rename)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".openclaw.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def setup_command(args: list[str], env: MutableMapping[str, str], *, profile: object,
                  dev: bool) -> int:
    if args:
        stream = sys.stdout if args[0] in ("-h", "--help") else sys.stderr
        stream.write(SETUP_USAGE)
        return 0 if stream is sys.stdout else 1
    from openclaw.config import ProfileError, apply_profile, resolve_paths

    try:
        apply_profile(env, profile=str(profile) if profile else None, dev=dev)
    except ProfileError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    paths = resolve_paths(env)
    os.makedirs(paths.state_dir, mode=0o700, exist_ok=True)
    if os.path.exists(paths.config_path):
        sys.stdout.write(f"Config already exists: {paths.config_path}\n")
    else:
        config = {
            "gateway": {
                "mode": "local",
                "bind": "loopback",
                "auth": {"mode": "token", "token": secrets.token_hex(24)},
            },
            "agents": {"defaults": {"workspace": paths.default_workspace}},
        }
        os.makedirs(os.path.dirname(paths.config_path), mode=0o700, exist_ok=True)
        write_private_file(paths.config_path, json.dumps(config, indent=2) + "\n")
        sys.stdout.write(f"Config ready: {paths.config_path} (token in gateway.auth.token)\n")
    os.makedirs(paths.default_workspace, mode=0o700, exist_ok=True)
    sys.stdout.write(f"Workspace ready: {paths.default_workspace}\n")
    return 0
