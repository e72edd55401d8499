"""Cutting a reply into messages a network accepts (``chunkMarkdownText`` / ``chunkMode``).

``length`` (the default) fills each chunk up to the limit, breaking at the last paragraph
break, else line break, else space before it (a word longer than the limit is cut). The
Markdown chunker never leaves a fenced code block open: a chunk that ends inside a fence is
closed with ```` ``` ```` and the next one reopens it with the same info string.
``newline`` splits at blank lines first (then falls back to length). ``max_bytes`` also
bounds the UTF-8 size of a chunk (IRC's 512-byte lines).
"""

from __future__ import annotations

import re
from typing import Final

_FENCE: Final = re.compile(r"^\s*(```+|~~~+)(.*)$")


def chunk_text(text: str, limit: int, *, mode: str = "length", markdown: bool = True,
               max_bytes: int | None = None) -> list[str]:
    text = text.strip("\n")
    if not text.strip():
        return []
    limit = max(16, int(limit))
    pieces: list[str]
    if mode == "newline":
        pieces = []
        for paragraph in re.split(r"\n\s*\n", text):
            if paragraph.strip():
                pieces.extend(_chunk(paragraph, limit, markdown))
    else:
        pieces = _chunk(text, limit, markdown)
    if max_bytes is not None:
        pieces = [part for piece in pieces for part in _bound_bytes(piece, max_bytes)]
    return [piece for piece in pieces if piece.strip()]


def _chunk(text: str, limit: int, markdown: bool) -> list[str]:
    chunks: list[str] = []
    reopen = ""
    rest = text
    while rest:
        if reopen:
            rest = reopen + "\n" + rest
        if len(rest) <= limit:
            chunks.append(rest)
            break
        budget = limit
        cut = _break_at(rest, budget)
        head, rest = rest[:cut].rstrip(), rest[cut:]
        rest = rest.lstrip(" ") if rest.startswith(" ") else rest.lstrip("\n")
        reopen = ""
        if markdown:
            fence = _open_fence(head)
            if fence is not None:
                closing = "\n" + fence[0]
                if len(head) + len(closing) > limit:
                    cut = _break_at(head, limit - len(closing))
                    rest = head[cut:].lstrip("\n") + "\n" + rest
                    head = head[:cut].rstrip()
                    fence = _open_fence(head)
                if fence is not None:
                    head += "\n" + fence[0]
                    reopen = fence[0] + fence[1]
        if head.strip():
            chunks.append(head)
        if rest.strip() == reopen.strip():
            break
    return chunks


def _break_at(text: str, limit: int) -> int:
    window = text[:limit]
    for separator in ("\n\n", "\n", " "):
        index = window.rfind(separator)
        if index > limit // 4:
            return index
    return limit


def _open_fence(text: str) -> tuple[str, str] | None:
    """The fence (marker, info string) left open at the end of ``text``, if any."""
    open_fence: tuple[str, str] | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if not match:
            continue
        marker, info = match.group(1), match.group(2).strip()
        if open_fence is None:
            open_fence = (marker, info)
        elif marker.startswith(open_fence[0][0]) and len(marker) >= len(open_fence[0]) \
                and not info:
            open_fence = None
    return open_fence


def _bound_bytes(text: str, max_bytes: int) -> list[str]:
    out: list[str] = []
    current = ""
    size = 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > max_bytes and current:
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    if current:
        out.append(current)
    return out
