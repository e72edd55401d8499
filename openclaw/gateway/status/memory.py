"""Giving freed memory back to the system.

glibc's allocator keeps memory a process freed in its arenas (for reuse) instead of returning
it: after a slow consumer's tens of megabytes of unsent output are dropped, RSS stays where
the peak left it. ``malloc_trim(0)`` returns the free pages; :class:`MemoryReclaimer` runs it
once, shortly after large buffers were released (a burst of closes costs one trim). Elsewhere
(musl, macOS) it does nothing.
"""

from __future__ import annotations

from typing import Any, Final

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

log = Logger(namespace="memory")

#: Released bytes that make a trim worth it, and how long to wait for more releases.
TRIM_THRESHOLD_BYTES: Final = 4 * 1024 * 1024
TRIM_DELAY_S: Final = 1.0

_libc: Any = None


def malloc_trim() -> bool:
    """``malloc_trim(0)`` on glibc; False where there is none."""
    global _libc
    if _libc is None:
        import ctypes  # with the first trim, not at start-up
        import ctypes.util
        import platform

        _libc = False
        if platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                libc.malloc_trim.argtypes = [ctypes.c_size_t]
                libc.malloc_trim.restype = ctypes.c_int
                _libc = libc
            except (OSError, AttributeError):
                _libc = False
    if _libc is False:
        return False
    _libc.malloc_trim(0)
    return True


class MemoryReclaimer:
    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._released = 0
        self._call: IDelayedCall | None = None

    def released(self, size: int) -> None:
        """``size`` bytes of buffers were just dropped."""
        self._released += size
        if self._released >= TRIM_THRESHOLD_BYTES and self._call is None:
            self._call = self._clock.callLater(TRIM_DELAY_S, self._trim)

    def _trim(self) -> None:
        self._call = None
        released, self._released = self._released, 0
        if malloc_trim():
            log.debug("returned freed memory to the system after {mb:.1f} MB of buffers were "
                      "dropped", mb=released / 1e6)

    def stop(self) -> None:
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
