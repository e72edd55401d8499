"""Watch the active config file (and its ``$include``s) for edits.

On Linux the *parent directory* is watched with inotify (``IN_CLOSE_WRITE | IN_MOVED_TO |
IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MODIFY``) and events are filtered on the file's
name, so editors that save by writing a temp file and renaming it over the config (vim,
emacs, our own atomic writes) keep working: the watch is on the directory's inode, not the
file's. A config path that is a symlink (a Kubernetes ConfigMap's ``..data`` swap) accepts
every event of its directory. Elsewhere, or when inotify fails, ``os.stat`` is polled with
the injected clock (``(inode, device, size, mtime_ns)`` compared), which also follows links.

The watcher only *reports* ("something changed"); debouncing, reading and deciding are the
:class:`~openclaw.gateway.reload.coordinator.ReloadCoordinator`'s job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from twisted.application.service import Service
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.filepath import FilePath

log = Logger(namespace="reload")

Signature = tuple[int, int, int, int] | None

DEFAULT_POLL_INTERVAL_S = 1.0


def file_signature(path: str) -> Signature:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns)


def inotify_available(reactor: Any) -> bool:
    from twisted.internet.interfaces import IReactorFDSet
    from twisted.python.runtime import platform

    return bool(platform.supportsINotify()) and IReactorFDSet.providedBy(reactor)


class ConfigWatcher(Service):
    """Calls ``on_change(path)`` whenever a watched file may have changed."""

    name = "config-watcher"

    def __init__(
        self,
        paths: Iterable[str],
        on_change: Callable[[str], None],
        *,
        reactor: Any,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        use_inotify: bool | None = None,
    ) -> None:
        self._paths = tuple(dict.fromkeys(os.path.abspath(p) for p in paths))
        self._on_change = on_change
        self._reactor = reactor
        self._poll_interval_s = poll_interval_s
        self._use_inotify = use_inotify
        self._notifier: Any = None
        self._poller: LoopingCall | None = None
        self._signatures: dict[str, Signature] = {}
        self.mode = "stopped"

    @property
    def paths(self) -> tuple[str, ...]:
        return self._paths

    def set_paths(self, paths: Iterable[str]) -> None:
        """Watch a new set of files (the config plus its current ``$include``s)."""
        wanted = tuple(dict.fromkeys(os.path.abspath(p) for p in paths))
        if wanted == self._paths:
            return
        self._paths = wanted
        if self.running:
            self._stop_watching()
            self._start_watching()

    def startService(self) -> None:
        super().startService()
        self._start_watching()

    def stopService(self) -> None:
        super().stopService()
        self._stop_watching()

    # -- inotify -------------------------------------------------------------------------

    def _start_watching(self) -> None:
        use_inotify = self._use_inotify
        if use_inotify is None:
            use_inotify = inotify_available(self._reactor)
        if use_inotify:
            try:
                self._start_inotify()
                self.mode = "inotify"
                return
            except Exception as e:
                log.warn("config watcher: inotify unavailable ({error}); polling every {s}s",
                         error=e, s=self._poll_interval_s)
                self._stop_inotify()
        self._start_polling()

    def _start_inotify(self) -> None:
        from twisted.internet import inotify

        mask = (inotify.IN_CLOSE_WRITE | inotify.IN_MOVED_TO | inotify.IN_CREATE
                | inotify.IN_DELETE | inotify.IN_MOVED_FROM | inotify.IN_MODIFY
                | inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF)
        notifier = inotify.INotify(reactor=self._reactor)
        notifier.startReading()
        self._notifier = notifier
        directories: dict[str, set[str]] = {}
        wildcard: set[str] = set()
        for path in self._paths:
            directory, name = os.path.split(path)
            directories.setdefault(directory, set()).add(name)
            if os.path.islink(path):
                wildcard.add(directory)
        for directory, names in directories.items():
            notifier.watch(
                FilePath(directory.encode()), mask=mask,
                callbacks=[self._inotify_callback(directory, frozenset(names),
                                                  directory in wildcard)])

    def _inotify_callback(
        self, directory: str, names: frozenset[str], any_name: bool
    ) -> Callable[[Any, FilePath[Any], int], None]:
        from twisted.internet import inotify

        def callback(_watch: Any, filepath: FilePath[Any], mask: int) -> None:
            try:
                if mask & (inotify.IN_DELETE_SELF | inotify.IN_MOVE_SELF | inotify.IN_IGNORED):
                    log.warn("config watcher: {dir} was removed or moved; polling instead",
                             dir=directory)
                    self._reactor.callLater(0, self._degrade_to_polling)
                    self._on_change(os.path.join(directory, sorted(names)[0]))
                    return
                name = os.fsdecode(filepath.basename())
                if any_name or name in names:
                    self._on_change(os.path.join(directory, name))
            except Exception:
                log.failure("config watcher callback failed")

        return callback

    def _degrade_to_polling(self) -> None:
        if self.mode != "inotify" or not self.running:
            return
        self._stop_inotify()
        self._start_polling()

    def _stop_inotify(self) -> None:
        notifier, self._notifier = self._notifier, None
        if notifier is not None:
            try:
                notifier.loseConnection()
            except Exception:
                log.failure("closing the inotify watcher failed")

    # -- polling -------------------------------------------------------------------------

    def _start_polling(self) -> None:
        self._signatures = {path: file_signature(path) for path in self._paths}
        poller = LoopingCall(self._poll)
        poller.clock = self._reactor
        poller.start(self._poll_interval_s, now=False)
        self._poller = poller
        self.mode = "polling"

    def _poll(self) -> None:
        for path in self._paths:
            try:
                signature = file_signature(path)
                if signature != self._signatures.get(path):
                    self._signatures[path] = signature
                    self._on_change(path)
            except Exception:
                log.failure("config watcher poll failed")

    def _stop_watching(self) -> None:
        self._stop_inotify()
        poller, self._poller = self._poller, None
        if poller is not None and poller.running:
            poller.stop()
        self.mode = "stopped"
