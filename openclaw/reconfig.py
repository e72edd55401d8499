"""Buildbot-style reconfiguration of services on a hot reload (no gateway dependency, so
channels and other packages below the gateway can build on it).

After the atomic snapshot swap, :class:`~openclaw.gateway.reload.runtime.ReloadRuntime`
calls ``reconfig_service(update)`` on every child of the ``GatewayService`` that has one, in
tree order (a :class:`~openclaw.gateway.reload.runtime.ConfigUpdate`: old and new config,
the new secrets snapshot, the reload plan). Two helpers implement the Buildbot patterns:

* :class:`SpecService` -- a service configured by one frozen (attrs) *spec* derived from the
  config: ``reconfig_service`` recomputes it and calls :meth:`SpecService.apply_spec` only
  when it changed (``==`` on frozen specs is Buildbot's ``compare_attrs``);
* :class:`NamedServiceSet` -- a ``MultiService`` of children keyed by name, each built from
  a frozen spec (one per channel account, per local model server, ...). A reconfiguration
  diffs by name: children whose spec disappeared or changed are stopped and removed, new
  names are built and started; unchanged children are left running untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger

log = Logger(namespace="reconfig")

SpecT = TypeVar("SpecT")


class SpecService(Service, Generic[SpecT]):
    """A service whose whole configuration is one frozen spec computed from the config."""

    def __init__(self, spec: SpecT, spec_of: Callable[[Any], SpecT]) -> None:
        self.spec = spec
        self._spec_of = spec_of

    def reconfig_service(self, update: Any) -> Deferred[Any] | None:
        new = self._spec_of(update.new)
        if new == self.spec:
            return None
        old, self.spec = self.spec, new
        apply: Callable[[SpecT, SpecT], Any] = self.apply_spec
        return maybeDeferred(apply, old, new)

    def apply_spec(self, old: SpecT, new: SpecT) -> Deferred[None] | None:
        """Apply a changed spec (override); the default does nothing more."""
        return None


class NamedServiceSet(MultiService, Generic[SpecT]):
    """Children built from ``{name: frozen spec}``; reconfigured by a diff on names."""

    def __init__(self, name: str, specs_of: Callable[[Any], Mapping[str, SpecT]],
                 make: Callable[[str, SpecT], IService], initial: Any = None) -> None:
        super().__init__()
        self.setName(name)
        self._specs_of = specs_of
        self._make = make
        self.specs: dict[str, SpecT] = {}
        if initial is not None:
            for child_name, spec in self._specs_of(initial).items():
                self._add(child_name, spec)

    def _add(self, name: str, spec: SpecT) -> None:
        child = self._make(name, spec)
        child.setName(name)
        child.setServiceParent(self)  # starts it at once when we are running
        self.specs[name] = spec

    def reconfig_service(self, update: Any) -> Deferred[None]:
        return Deferred.fromCoroutine(self.reconfigure(self._specs_of(update.new)))

    async def reconfigure(self, wanted: Mapping[str, SpecT]) -> None:
        for name in list(self.specs):
            if name in wanted and wanted[name] == self.specs[name]:
                continue
            child = self.getServiceNamed(name)
            del self.specs[name]
            try:
                await maybeDeferred(child.disownServiceParent)
            except Exception:
                log.failure("stopping {set}/{name} failed", set=self.name, name=name)
            log.info("{set}: {name} {what}", set=self.name, name=name,
                     what="changed; restarting" if name in wanted else "removed")
        for name, spec in wanted.items():
            if name not in self.specs:
                self._add(name, spec)
                log.info("{set}: {name} started", set=self.name, name=name)
