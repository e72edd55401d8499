"""The zero-latency model upstream the agent and HTTP benches run in their own process.

`tests.upstream.ScriptedUpstream` answering every request with `chunks` streamed deltas
("w0 ", "w1 ", ...), and with `burst` deltas when the request's text says "burst". Burst
deltas are "b0 ", "b1 ", ...: the same sizes, and bench/agent_turn.py counts what the
gateway relayed of the burst by that prefix. It keeps no record of the requests it
answered, so a long bench does not grow its memory.
"""

from __future__ import annotations

from typing import Any, cast


class _Discard(list):  # type: ignore[type-arg]
    def append(self, item: Any) -> None:
        pass


def serve_upstream(port: int, chunks: int, burst: int = 5000) -> None:
    """Serve on 127.0.0.1:`port` until killed; prints "ready" once listening."""
    from twisted.internet import reactor

    from tests.upstream import ScriptedUpstream, openai_text

    pieces = [f"w{i} " for i in range(chunks)]
    long_pieces = [f"b{i} " for i in range(burst)]
    upstream = ScriptedUpstream(reactor, default=lambda: openai_text(pieces))
    original = upstream._answer

    def answer(request: Any) -> Any:
        raw = request.content.read()
        request.content.seek(0)
        if b"burst" in raw:
            upstream.script(openai_text(long_pieces))
        return original(request)

    upstream._answer = answer  # type: ignore[method-assign]
    upstream.start(port)
    upstream.requests = _Discard()  # type: ignore[assignment]
    print("ready", flush=True)
    cast(Any, reactor).run()


if __name__ == "__main__":
    import sys

    serve_upstream(int(sys.argv[1]), int(sys.argv[2]),
                   int(sys.argv[3]) if len(sys.argv) > 3 else 5000)
