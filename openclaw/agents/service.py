"""The ``store`` and ``agents`` children of the gateway's service tree.

``store`` owns the durable writer thread and the session store (flushed and closed last, after
``agents`` stopped); ``agents`` owns the :class:`~openclaw.agents.runtime.AgentRuntime` (runs
are aborted with reason ``shutdown`` when it stops, so their transcripts record the end; queued
messages stay in the queue journal and are replayed when it starts again).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorThreads
from twisted.logger import Logger

from openclaw.agents.durable import DurableWriter, InlineWriter
from openclaw.agents.runtime import AgentRuntime
from openclaw.agents.store import SessionStore
from openclaw.blocking import blocking_runner
from openclaw.config.loader import ConfigSnapshot
from openclaw.providers.router import ModelRouter

log = Logger(namespace="agents")


class StoreService(Service):
    name = "store"

    def __init__(self, reactor: Any, state_dir: str,
                 sessions_dir: Callable[[str], str] | None = None) -> None:
        writer = DurableWriter(reactor) if IReactorThreads.providedBy(reactor) \
            else InlineWriter()
        self.store = SessionStore(state_dir, writer, reactor, sessions_dir)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self.store.close())


class AgentsService(Service):
    name = "agents"

    def __init__(self, reactor: Any, store: SessionStore, router: ModelRouter,
                 get_config: Callable[[], ConfigSnapshot], *, state_dir: str,
                 default_workspace: str, home: str | None = None) -> None:
        self.runtime = AgentRuntime(
            reactor=reactor, store=store, router=router, get_config=get_config,
            state_dir=state_dir, default_workspace=default_workspace,
            run_blocking=blocking_runner(reactor), home=home or os.path.expanduser("~"))

    def startService(self) -> None:
        super().startService()
        try:
            view = self.runtime.view()
            for agent in view.agents.values():
                self.runtime.store.agent(agent.id).load()
        except Exception:
            log.failure("agents: loading session indexes failed")
        # queued messages acknowledged before a stop or crash: replayed before any request
        # is served (the web service starts after this one)
        Deferred.fromCoroutine(self.runtime.recover()).addErrback(
            lambda f: log.failure("agents: replaying queued messages failed", f))

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self.runtime.stop())
