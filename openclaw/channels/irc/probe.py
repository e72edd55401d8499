"""``channels status --probe`` for IRC: a second, full registration with the account's
settings (``extensions/irc/src/probe.ts``): ``{ok, host, port, tls, nick, latencyMs}`` or
``{..., error}``. The nick being taken by the account itself, it registers as
``<nick>_2`` and says ``QUIT :probe``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.protocol import Factory

if TYPE_CHECKING:
    from openclaw.channels.irc.account import IrcAccount


class _ProbeFactory(Factory):
    noisy = False

    def __init__(self, account: IrcAccount) -> None:
        self.account = account
        self.protocol_instance: Any = None

    def buildProtocol(self, addr: Any) -> Any:
        self.protocol_instance = self.account.make_protocol(join=False)
        return self.protocol_instance


async def probe_irc(account: IrcAccount, timeout_ms: int) -> dict[str, Any]:
    settings = account.irc
    base: dict[str, Any] = {"ok": False, "host": settings.host, "port": settings.port,
                            "tls": settings.tls, "nick": settings.nick}
    if not account.spec.configured:
        return {**base, "error": "missing host or nick"}
    reactor = account.context.reactor
    started = reactor.seconds()
    factory = _ProbeFactory(account)
    connecting = account.endpoint().connect(factory)
    connecting.addTimeout(max(1, timeout_ms) / 1000.0, reactor)
    protocol: Any = None
    try:
        protocol = await connecting
        registered = protocol.registered
        remaining = max(0.5, timeout_ms / 1000.0 - (reactor.seconds() - started))
        registered.addTimeout(remaining, reactor)
        await registered
    except Exception as e:
        if protocol is not None and protocol.transport is not None:
            protocol.transport.abortConnection()
        message = str(e) or type(e).__name__
        if "timed out" in message.lower() or type(e).__name__ == "TimeoutError":
            message = f"IRC connect timed out after {timeout_ms}ms"
        return {**base, "error": message}
    latency = int((reactor.seconds() - started) * 1000)
    protocol.quit("probe")
    closing = protocol.lost
    closing.addTimeout(2.0, reactor)
    try:
        await closing          # the server closes after QUIT; leave nothing behind
    except Exception:
        if protocol.transport is not None:
            protocol.transport.abortConnection()
    return {**base, "ok": True, "latencyMs": latency}
