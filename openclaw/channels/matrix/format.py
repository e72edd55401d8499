"""Reply text as Matrix ``m.text`` content: the plain ``body`` and an HTML
``formatted_body`` (paragraphs, line breaks, fenced code, inline code, bold/italic, links),
with an empty ``m.mentions`` (a reply mentions nobody unless it says so)."""

from __future__ import annotations

import html
import re
from typing import Any


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"(?<!\*)\*([^*\s][^*]*)\*(?!\*)", r"<em>\1</em>", escaped)
    escaped = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", r'<a href="\2">\1</a>', escaped)
    return escaped


def to_html(text: str) -> str:
    out: list[str] = []
    paragraph: list[str] = []
    lines = text.split("\n")
    index = 0

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(line) for line in paragraph) + "</p>")
            paragraph.clear()

    while index < len(lines):
        line = lines[index]
        fence = re.match(r"^\s*(```+|~~~+)\s*([\w+-]*)\s*$", line)
        if fence:
            flush()
            marker, language = fence.group(1), fence.group(2)
            body: list[str] = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(marker):
                body.append(lines[index])
                index += 1
            attr = f' class="language-{html.escape(language)}"' if language else ""
            out.append(f"<pre><code{attr}>" + html.escape("\n".join(body), quote=False)
                       + "\n</code></pre>")
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        index += 1
    flush()
    return "".join(out)


def message_content(text: str, *, thread_id: str | None = None,
                    reply_to_id: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": "m.text", "body": text,
                               "format": "org.matrix.custom.html",
                               "formatted_body": to_html(text), "m.mentions": {}}
    if thread_id:
        content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_id,
                                   "is_falling_back": reply_to_id is None,
                                   "m.in_reply_to": {"event_id": reply_to_id or thread_id}}
    elif reply_to_id:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to_id}}
    return content


def strip_reply_fallback(body: str) -> str:
    """Drop the ``> <@user:server> quoted`` lines older clients put before a reply."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    return "\n".join(lines[index:]).lstrip("\n")
