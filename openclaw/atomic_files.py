"""Durable small-file writes: temp file + fsync + rename + directory fsync, mode 0600.

A ``kill -9`` at any moment leaves either the old or the new file, never a torn one. The one
implementation every store uses (config writes and backups, device pairing, the gateway
identity, session indexes).
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename or a file creation in `directory` durable (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600) -> None:
    """Replace `path` with `data` atomically and durably, creating its directory (0700)."""
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
    )
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    fsync_dir(directory)
