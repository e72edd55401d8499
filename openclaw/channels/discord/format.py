"""Discord message text: 2000 characters and (``maxLinesPerMessage``) 17 lines a message.

Discord renders Markdown itself, so the reply text goes out as it is; it is cut by the shared
Markdown chunker to the character limit, then by lines, a fenced code block that a cut
leaves open being closed at the end of one message and reopened at the start of the next.
"""

from __future__ import annotations

import re
from typing import Final

from openclaw.channels.chunking import chunk_text

MAX_CONTENT: Final = 2000
DEFAULT_MAX_LINES: Final = 17
_FENCE: Final = re.compile(r"^\s*(```+|~~~+)(.*)$")
_FENCE_ROOM: Final = 24      # what closing and reopening a fence may add to a message


def split_lines(text: str, max_lines: int) -> list[str]:
    lines = text.split("\n")
    if len(lines) <= max_lines:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    opener: str | None = None        # the fence line of the block we are inside
    for line in lines:
        budget = max_lines - (1 if opener is not None else 0)
        if len(current) >= max(1, budget):
            if opener is not None:
                current.append(opener.strip()[:3])
            pieces.append("\n".join(current))
            current = [opener] if opener is not None else []
        current.append(line)
        fence = _FENCE.match(line)
        if fence:
            opener = None if opener is not None else line
    if current and any(part.strip() for part in current):
        pieces.append("\n".join(current))
    return [piece for piece in pieces if piece.strip()]


def chunk_discord(text: str, limit: int, mode: str, max_lines: int) -> list[str]:
    limit = min(int(limit), MAX_CONTENT)
    pieces = chunk_text(text, max(16, limit - _FENCE_ROOM), mode=mode)
    return [part for piece in pieces for part in split_lines(piece, max_lines)]
