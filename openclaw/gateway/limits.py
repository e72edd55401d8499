"""Process limits the gateway sets for itself at start-up.

Every WebSocket, HTTP keep-alive and provider connection holds a descriptor, and most shells
start processes with a soft ``RLIMIT_NOFILE`` of 1024 - far below what an idle crowd of
clients needs (``bench/connections.py`` holds 10,000). The soft limit may be raised up to the
hard limit without privileges, so the gateway does that once at start and logs the result;
when it cannot (the hard limit is low, or the call fails) it says how many connections that
leaves room for.
"""

from __future__ import annotations

import attrs
from twisted.logger import Logger

log = Logger(namespace="gateway")

#: Descriptors kept for everything that is not a client connection (the listening socket,
#: provider connections, transcripts, the log, the thread pool's files).
RESERVED_DESCRIPTORS = 64
#: Below this soft limit after the attempt, the gateway warns.
COMFORTABLE_LIMIT = 4096


@attrs.frozen
class OpenFilesLimit:
    before: int
    after: int
    hard: int
    error: str | None = None


def raise_open_files_limit() -> OpenFilesLimit | None:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (None where there is none)."""
    try:
        import resource
    except ImportError:     # not a POSIX system
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return OpenFilesLimit(soft, soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as e:
        return OpenFilesLimit(soft, soft, hard, str(e))
    return OpenFilesLimit(soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)


def report_open_files_limit(limit: OpenFilesLimit | None) -> None:
    if limit is None:
        return
    room = max(0, limit.after - RESERVED_DESCRIPTORS)
    if limit.error is not None:
        log.warn("open files limit (RLIMIT_NOFILE) stays at {soft}: raising it to the hard "
                 "limit {hard} failed ({error}); about {room} connections fit",
                 soft=limit.before, hard=limit.hard, error=limit.error, room=room)
    elif limit.after > limit.before:
        log.info("open files limit (RLIMIT_NOFILE) raised from {before} to {after}",
                 before=limit.before, after=limit.after)
    if limit.error is None and limit.after < COMFORTABLE_LIMIT:
        log.warn("open files limit (RLIMIT_NOFILE) is {soft} (the hard limit): about {room} "
                 "connections fit; raise the hard limit (ulimit -Hn, LimitNOFILE=) for more",
                 soft=limit.after, room=room)
