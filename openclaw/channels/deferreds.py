"""Small Deferred helpers the channel networks share."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred


def settled(deferred: Deferred[Any]) -> Deferred[None]:
    """Fires (with None) once ``deferred`` has a result, success or failure, leaving that
    result in place for its other users (awaiting a Deferred consumes its result)."""
    copy: Deferred[None] = Deferred()

    def relay(result: Any) -> Any:
        if not copy.called:
            copy.callback(None)
        return result

    deferred.addBoth(relay)
    return copy


__all__ = ["settled"]
