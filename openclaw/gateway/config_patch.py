"""Config edits the gateway makes on its own behalf (the first pairing approval's owner),
through the same path as ``config.patch``: read the file as authored, merge, validate the
whole candidate, write it atomically (backup ring, 0600) under the write lock, then let the
reload coordinator apply it like any other edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openclaw import __version__


class ConfigPatchUnavailable(RuntimeError):
    """This gateway has no config writer (bare protocol tests)."""


async def patch_config(context: Any, patch: Mapping[str, Any]) -> bool:
    """Merge ``patch`` (RFC 7396) into the config file; False when nothing changed.

    Raises :class:`openclaw.config.ConfigError` when the result does not validate.
    """
    from openclaw.config.jsonfile import parse_json5
    from openclaw.gateway.reload.runtime import runtime_of
    from openclaw.gateway.reload.writer import (
        leaf_diff_paths,
        merge_patch,
        render_config,
        stamp_meta,
    )

    runtime = runtime_of(context)
    if runtime is None:
        raise ConfigPatchUnavailable("this gateway has no config writer")
    await runtime.write_lock.acquire()
    try:
        disk = await runtime.read_disk()
        source: Any = parse_json5(disk.raw, runtime.path) if disk.exists and disk.raw else {}
        merged = merge_patch(source, patch)
        if not leaf_diff_paths(source, merged):
            return False
        text = render_config(stamp_meta(merged, __version__))
        await runtime.validate(text)
        await runtime.write(text)
    finally:
        runtime.write_lock.release()
    runtime.coordinator.request(source="channels", delay_ms=0)
    return True


async def bootstrap_command_owner(context: Any, entry: str) -> str:
    """``commands.ownerAllowFrom: [entry]`` when no owner exists yet: ``configured`` or
    ``already-configured`` (upstream ``bootstrapCommandOwnerFromPairing``)."""
    owners = context.get_config().config.commands.owner_allow_from
    if owners and any(str(owner).strip() for owner in owners):
        return "already-configured"
    await patch_config(context, {"commands": {"ownerAllowFrom": [entry]}})
    return "configured"
