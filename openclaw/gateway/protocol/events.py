"""The one event bus: broadcast server events to connected clients.

Each broadcast is serialized once (:class:`EncodedEvent`); every recipient adds its own
per-connection ``seq`` (a frame skipped for slowness still consumes its number, so a gap is
a real loss). Delivery is filtered by the newest gateway's fail-closed scope table: an event
without a registered guard is never delivered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final

from twisted.logger import Logger
from zope.interface import Attribute, Interface

from openclaw.auth import scopes as sc
from openclaw.auth.scopes import ROLE_OPERATOR
from openclaw.gateway.protocol.frames import EncodedEvent, encode_event

# Who may receive an event: () means every authenticated connection (operators and nodes);
# otherwise an operator holding (or implying) one of the listed scopes.
EVENT_SCOPE_GUARDS: Final[Mapping[str, tuple[str, ...]]] = {
    "agent": (sc.READ,),
    "chat": (sc.READ,),
    "chat.side_result": (sc.READ,),
    "cron": (sc.READ,),
    "health": (),
    "heartbeat": (),
    "exec.approval.requested": (sc.APPROVALS,),
    "exec.approval.resolved": (sc.APPROVALS,),
    "plugin.approval.requested": (sc.APPROVALS,),
    "plugin.approval.resolved": (sc.APPROVALS,),
    "presence": (sc.READ,),
    "shutdown": (),
    "tick": (),
    "talk.mode": (sc.TALK,),
    "update.available": (),
    "config.changed": (sc.READ,),
    "skills.changed": (sc.READ,),
    "voicewake.changed": (sc.READ,),
    "device.pair.requested": (sc.PAIRING,),
    "device.pair.resolved": (sc.PAIRING,),
    "node.pair.requested": (sc.PAIRING,),
    "node.pair.resolved": (sc.PAIRING,),
    "sessions.changed": (sc.READ,),
    "session.message": (sc.READ,),
    "session.tool": (sc.READ,),
}

# Events this package emits; other subsystems add theirs with EventBus.register_event.
CORE_EVENTS: Final = (
    "connect.challenge",
    "presence",
    "tick",
    "shutdown",
    "health",
    "device.pair.requested",
    "device.pair.resolved",
)


class IEventRecipient(Interface):
    """A live, authenticated connection as seen by the bus."""

    conn_id = Attribute("Connection id (str).")
    role = Attribute("Negotiated role (str).")
    scopes = Attribute("Granted scopes (collection of str).")

    def deliver_event(event: EncodedEvent, drop_if_slow: bool, with_seq: bool) -> None:  # noqa: N805
        """Send one pre-encoded event frame, applying the slow-consumer policy."""


def recipient_may_receive(guard: tuple[str, ...] | None, role: str, scopes: Collection[str]
                          ) -> bool:
    if guard is None:
        return False
    if not guard:
        return True
    return role == ROLE_OPERATOR and any(sc.scope_satisfied(scope, scopes) for scope in guard)


class EventBus:
    log = Logger()

    def __init__(self) -> None:
        self._recipients: dict[str, Any] = {}
        self._guards: dict[str, tuple[str, ...]] = dict(EVENT_SCOPE_GUARDS)
        self._advertised: list[str] = list(CORE_EVENTS)

    def register_event(self, name: str, scopes: Sequence[str] | None = None, *,
                       advertise: bool = True) -> None:
        """Declare an event another subsystem emits (listed in ``features.events`` unless
        ``advertise`` is false: upstream sends a few events it does not list)."""
        if scopes is not None:
            self._guards[name] = tuple(scopes)
        elif name not in self._guards:
            raise ValueError(f"event {name!r} needs a scope guard")
        if advertise and name not in self._advertised:
            self._advertised.append(name)

    @property
    def advertised_events(self) -> list[str]:
        return list(self._advertised)

    def subscribe(self, recipient: Any) -> None:
        self._recipients[recipient.conn_id] = recipient

    def unsubscribe(self, recipient: Any) -> None:
        key = recipient.conn_id
        if self._recipients.get(key) is recipient:
            del self._recipients[key]

    def recipients(self) -> list[Any]:
        return list(self._recipients.values())

    def __len__(self) -> int:
        return len(self._recipients)

    def broadcast(
        self,
        event: str,
        payload: Any = None,
        *,
        drop_if_slow: bool = False,
        state_version: dict[str, int] | None = None,
        targets: Iterable[str] | None = None,
    ) -> int:
        """Deliver to every allowed recipient (or only ``targets``, without ``seq``).

        Returns the number of recipients the frame was handed to.
        """
        guard = self._guards.get(event)
        if guard is None:
            self.log.warn("dropping unguarded event {event}", event=event)
            return 0
        if not self._recipients:
            return 0
        encoded = encode_event(event, payload, state_version=state_version)
        chosen: list[Any]
        if targets is not None:
            chosen = [self._recipients[c] for c in targets if c in self._recipients]
            with_seq = False
        else:
            chosen = list(self._recipients.values())
            with_seq = True
        delivered = 0
        for recipient in chosen:
            if not recipient_may_receive(guard, recipient.role, recipient.scopes):
                continue
            try:
                recipient.deliver_event(encoded, drop_if_slow, with_seq)
            except Exception:
                self.log.failure("event delivery failed conn={conn}", conn=recipient.conn_id)
                continue
            delivered += 1
        return delivered
