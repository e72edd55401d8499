"""Reply text (the model's Markdown) as Telegram HTML (``parse_mode: "HTML"``).

Telegram's HTML is a small tag set -- ``b i u s code pre a blockquote tg-spoiler`` -- with
literal newlines (no ``<p>``/``<br>``) and only ``&lt; &gt; &amp; &quot;`` escapes. Fenced code
becomes ``<pre><code class="language-x">``, inline code ``<code>``, ``**bold**`` ``<b>``,
``*italic*``/``_italic_`` ``<i>``, ``~~strike~~`` ``<s>``, ``[text](url)`` a link, a heading
a bold line, ``> quote`` lines a ``<blockquote>``. Everything else is escaped, so the
result always parses; should Telegram still refuse it, the account re-sends the plain text.
"""

from __future__ import annotations

import html
import re
from typing import Final

_FENCE: Final = re.compile(r"^\s*(```+|~~~+)\s*([\w+#.-]*)\s*$")
_INLINE: Final = re.compile(
    r"`(?P<code>[^`\n]+)`"
    r"|\[(?P<label>[^\]\n]+)\]\((?P<url>https?://[^)\s]+)\)"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|__(?P<bold2>[^_\n]+?)__"
    r"|~~(?P<strike>[^~\n]+?)~~"
    r"|(?<![\w*])\*(?P<italic>[^*\s\n](?:[^*\n]*[^*\s\n])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic2>[^_\s\n](?:[^_\n]*[^_\s\n])?)_(?![\w_])")


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def _inline(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[position:match.start()]))
        position = match.end()
        if match.group("code") is not None:
            out.append(f"<code>{escape(match.group('code'))}</code>")
        elif match.group("url") is not None:
            url = html.escape(match.group("url"), quote=True)
            out.append(f'<a href="{url}">{_inline(match.group("label"))}</a>')
        elif match.group("bold") is not None or match.group("bold2") is not None:
            out.append(f"<b>{_inline(match.group('bold') or match.group('bold2'))}</b>")
        elif match.group("strike") is not None:
            out.append(f"<s>{_inline(match.group('strike'))}</s>")
        else:
            out.append(f"<i>{_inline(match.group('italic') or match.group('italic2'))}</i>")
    out.append(escape(text[position:]))
    return "".join(out)


def to_telegram_html(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    quote: list[str] = []
    index = 0

    def flush_quote() -> None:
        if quote:
            out.append("<blockquote>" + "\n".join(quote) + "</blockquote>")
            quote.clear()

    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        if fence:
            flush_quote()
            marker, language = fence.group(1), fence.group(2)
            body: list[str] = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(marker[:3]):
                body.append(lines[index])
                index += 1
            attr = f' class="language-{html.escape(language, quote=True)}"' if language \
                else ""
            out.append(f"<pre><code{attr}>{escape(chr(10).join(body))}</code></pre>")
            index += 1
            continue
        quoted = re.match(r"^\s*>\s?(.*)$", line)
        if quoted:
            quote.append(_inline(quoted.group(1)))
            index += 1
            continue
        flush_quote()
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            out.append(f"<b>{_inline(heading.group(1))}</b>")
        else:
            bullet = re.match(r"^(\s*)[-*+]\s+(.*)$", line)
            out.append(f"{bullet.group(1)}• {_inline(bullet.group(2))}" if bullet
                       else _inline(line))
        index += 1
    flush_quote()
    return "\n".join(out)
