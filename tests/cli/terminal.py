"""A real terminal for full-screen CLI programs: a pty (pexpect) read into a VT100 screen
(pyte), so a test asserts on what a person would see.

The waits block on the pty (new output is the event) until the screen matches, with a
deadline only as a failure guard; call them through ``deferToThread`` from a test that also
serves the program from the reactor.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence

import pexpect
import pyte


class Terminal:
    def __init__(self, argv: Sequence[str], env: Mapping[str, str], *, cols: int = 110,
                 rows: int = 30) -> None:
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(argv[0], list(argv[1:]), env=dict(env),
                                   dimensions=(rows, cols))

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Feed output to the screen until ``predicate(screen text)`` holds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.text()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the screen never showed what was expected:\n"
                                     f"{self.text()}")
            try:
                data = self.child.read_nonblocking(65536, timeout=remaining)
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                raise AssertionError(f"the program exited ({self.child.exitstatus}); "
                                     f"screen:\n{self.text()}") from None
            self.stream.feed(data)
        return self.text()

    def wait_text(self, needle: str, timeout: float = 30.0) -> str:
        return self.wait_for(lambda text: needle in text, timeout)

    def send(self, text: str) -> None:
        self.child.send(text)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.child.sendcontrol("d")
            self.child.expect(pexpect.EOF, timeout=5)
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close(force=True)
