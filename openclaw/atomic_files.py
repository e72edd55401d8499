"""Durable small-file writes: unique temp file + fsync + rename + directory fsync.

A ``kill -9`` at any moment leaves either the old or the new file, never a torn one, and two
writers of the same path never share a temp file (each gets a unique name beside the target;
the last rename wins). A failed write removes its temp file. The one implementation every
writer uses (config writes and backups, device pairing, the gateway identity, session indexes,
service unit files, the agent's ``write``/``apply_patch`` tools).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat

# Mode of a new file when the caller asks for what ``open(path, "w")`` would give (the
# process umask applies, as it does for a plain open).
PLAIN_FILE_MODE = 0o666


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


def _create_temp(directory: str, name: str, create_mode: int) -> tuple[int, str]:
    """A new, exclusively created temp file beside the target (the umask applies)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp_name = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp_name, flags, create_mode), tmp_name
        except FileExistsError:
            continue


def atomic_write_bytes(
    path: str | os.PathLike[str],
    data: bytes,
    *,
    mode: int | None = 0o600,
    keep_mode: bool = False,
    directory_mode: int = 0o700,
) -> None:
    """Replace `path` with `data` atomically and durably, creating its directory.

    ``mode`` is the exact mode of the new file (0600 for stores); ``None`` means what a plain
    ``open(path, "w")`` would create (0666 less the umask). ``keep_mode`` keeps the mode of
    the file being replaced, when there is one. A missing directory is created with
    ``directory_mode`` (less the umask, as ``os.makedirs`` does).
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, mode=directory_mode, exist_ok=True)
    if keep_mode:
        with contextlib.suppress(FileNotFoundError):
            mode = stat.S_IMODE(os.stat(target).st_mode)
    fd, tmp_name = _create_temp(directory, os.path.basename(target),
                                PLAIN_FILE_MODE if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    fsync_dir(directory)
