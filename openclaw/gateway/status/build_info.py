"""``hello-ok.server.buildId``: a stable id of this build of the gateway.

Upstream's id is ``<version>-<channel>-<commit>-<build time>``. Ours is
``<version>-python-<digest>``: the first 12 hex digits of a SHA-256 over the package's Python
sources (relative path and content of every ``*.py`` under ``openclaw/``, in sorted order), so
it is the same for every process of one build and changes with any code change, installed or
in a checkout alike. Hashing ~2 MB takes ~20 ms, so the gateway computes it once, off the
reactor thread, when the WebSocket factory starts (:func:`warm`); a ``hello-ok`` sent before
that finishes computes it inline.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_cache: dict[str, str] = {}


def package_root() -> str:
    import openclaw

    return os.path.dirname(os.path.abspath(openclaw.__file__))


def source_digest(root: str) -> str:
    digest = hashlib.sha256()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d != "__pycache__" and not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).replace(os.sep, "/").encode())
            digest.update(b"\0")
            try:
                with open(path, "rb") as handle:
                    digest.update(handle.read())
            except OSError:
                continue
            digest.update(b"\0")
    return digest.hexdigest()[:12]


def build_id(version: str) -> str:
    """``<version>-python-<digest>`` (computed once per process)."""
    cached = _cache.get(version)
    if cached is not None:
        return cached
    with _lock:
        cached = _cache.get(version)
        if cached is None:
            cached = f"{version}-python-{source_digest(package_root())}"
            _cache[version] = cached
    return cached


def warm(version: str, run_blocking: Callable[..., Any]) -> None:
    """Compute the id in the background (``run_blocking`` is the context's thread runner)."""
    if version in _cache:
        return
    try:
        waiting = run_blocking(build_id, version)
    except RuntimeError:    # the thread pool is stopping: computed on first use instead
        return
    add_errback = getattr(waiting, "addErrback", None)
    if add_errback is not None:
        add_errback(lambda failure: None)
