"""The gateway's own state database (``<state>/gateway.sqlite``) as a child of the tree.

One SQLite file (WAL) for the gateway-wide records that are not transcripts: the usage ledger
(``openclaw.agents.usage``), the cron jobs and their runs (``openclaw.agents.cron``), the
exec approvals policy (``openclaw.agents.approvals``). Each feature creates its own tables.
Every access from the gateway goes through the one :class:`~openclaw.state_db.SerialWriter`
(the thread pool, in order); the service stops after the features that write (it starts
before them), waiting for the last writes before it closes the file.
"""

from __future__ import annotations

import os
from typing import Any, Final

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from openclaw.blocking import blocking_runner
from openclaw.state_db import SerialWriter, SqliteDatabase

DB_FILENAME: Final = "gateway.sqlite"


def state_database_path(state_dir: str) -> str:
    return os.path.join(state_dir, DB_FILENAME)


class StateService(Service):
    """Child ``state``: the database and its writer."""

    name = "state"

    def __init__(self, reactor: Any, state_dir: str) -> None:
        self.db = SqliteDatabase(state_database_path(state_dir))
        self.writer = SerialWriter(blocking_runner(reactor))

    def stopService(self) -> Deferred[None]:
        super().stopService()
        return Deferred.fromCoroutine(self._close())

    async def _close(self) -> None:
        await self.writer.drain()
        await self.writer(self.db.close)


__all__ = ["DB_FILENAME", "StateService", "state_database_path"]
