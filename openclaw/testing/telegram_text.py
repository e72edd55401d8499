"""Telegram message text as the Bot API sees it: ``parse_mode=HTML`` and automatic entities.

:func:`parse_html` follows TDLib's ``parse_html`` (the code behind the Bot API), so a fake
server rejects exactly what Telegram rejects, with Telegram's words and byte offsets: a bare
``<`` is an unsupported start tag, only ``&lt; &gt; &amp; &quot;`` and numeric entities are
decoded, unknown tags and unbalanced tags fail. Offsets in entities are UTF-16 code units,
like the real API. :func:`detect_entities` finds the entities Telegram adds by itself
(``mention``, ``bot_command``, ``hashtag``, ``url``).
"""

from __future__ import annotations

import re
from typing import Any

SUPPORTED_TAGS = frozenset({
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji",
    "span", "pre", "code", "blockquote",
})
_SIMPLE_TYPES = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
_SPACES = b" \t\r\n\x0b\x0c"


class TelegramEntityError(ValueError):
    """TDLib's parse error; the Bot API answers ``400 Bad Request: can't parse entities: ...``."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode_entity(data: bytes, pos: int) -> tuple[int, int]:
    """``(code point, next position)`` of the HTML entity at ``pos``; code point 0 if none."""
    end = pos + 1
    value = 0
    if data[end:end + 1] == b"#":
        end += 1
        if data[end:end + 1] == b"x":
            end += 1
            while end < len(data) and chr(data[end]) in "0123456789abcdefABCDEF":
                value = value * 16 + int(chr(data[end]), 16)
                end += 1
        else:
            while end < len(data) and 48 <= data[end] <= 57:
                value = value * 10 + data[end] - 48
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while end < len(data) and chr(data[end]).isascii() and chr(data[end]).isalpha():
            end += 1
        named = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}.get(data[pos + 1:end])
        if named is None:
            return 0, pos
        value = ord(named)
    if data[end:end + 1] == b";":
        end += 1
    return value, end


def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    if url.startswith("tg://"):
        return url
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", url)
    if match is None:
        url = "http://" + url
    elif match.group(1).lower() not in ("http", "https", "ftp", "tonsite"):
        return None
    scheme, _, rest = url.partition("://")
    split = min([rest.find(c) for c in "/?#" if c in rest] or [len(rest)])
    host, tail = rest[:split], rest[split:]
    if not host:
        return None
    if not tail.startswith("/"):
        tail = "/" + tail
    return f"{scheme.lower()}://{host.lower()}{tail}"


class _Open:
    __slots__ = ("argument", "offset", "tag")

    def __init__(self, tag: str, argument: str, offset: int) -> None:
        self.tag = tag
        self.argument = argument
        self.offset = offset


def parse_html(html: str) -> tuple[str, list[dict[str, Any]]]:
    """``(plain text, entities)`` of an HTML-formatted message, or :class:`TelegramEntityError`.

    The error text is TDLib's own (``Unsupported start tag "foo" at byte offset 0``,
    ``Can't find end tag corresponding to start tag "b"``, ...).
    """
    data = html.encode("utf-8", "surrogatepass")
    size = len(data)
    out: list[str] = []
    utf16_offset = 0
    nested: list[_Open] = []
    entities: list[dict[str, Any]] = []
    surrogate = False
    i = 0

    def at(index: int) -> int:
        return data[index] if index < size else 0

    def emit(code_point: int) -> None:
        nonlocal utf16_offset, surrogate
        if 0xD800 <= code_point <= 0xDFFF:
            surrogate = True
        out.append(chr(code_point))
        utf16_offset += 2 if code_point > 0xFFFF else 1

    while i < size:
        c = data[i]
        if c == 0x26:  # '&'
            code_point, after = _decode_entity(data, i)
            if code_point:
                emit(code_point)
                i = after
                continue
        if c != 0x3C:  # not '<': copy one UTF-8 character
            width = 1 if c < 0x80 else 2 if c < 0xE0 else 3 if c < 0xF0 else 4
            emit(ord(data[i:i + width].decode("utf-8", "surrogatepass")))
            i += width
            continue
        begin = i
        i += 1
        if i < size and data[i] != 0x2F:  # a start tag
            while i < size and data[i] not in _SPACES and data[i] != 0x3E:
                i += 1
            if i >= size:
                raise TelegramEntityError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1:i].decode("utf-8", "replace").lower()
            if tag not in SUPPORTED_TAGS:
                raise TelegramEntityError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while i < size and data[i] != 0x3E:
                while i < size and data[i] in _SPACES:
                    i += 1
                if at(i) == 0x3E:
                    break
                name_begin = i
                while i < size and data[i] not in _SPACES and data[i] not in (0x3D, 0x3E):
                    i += 1
                name = data[name_begin:i].decode("utf-8", "replace")
                if not name:
                    raise TelegramEntityError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while i < size and data[i] in _SPACES:
                    i += 1
                if at(i) != 0x3D:
                    if tag == "blockquote" and name == "expandable":
                        argument = "expandable"
                        continue
                    raise TelegramEntityError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}')
                i += 1
                while i < size and data[i] in _SPACES:
                    i += 1
                if i >= size:
                    raise TelegramEntityError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if data[i] not in (0x22, 0x27):
                    token_begin = i
                    while i < size and ((chr(data[i]).isascii() and chr(data[i]).isalnum())
                                        or data[i] in (0x2E, 0x2D)):
                        i += 1
                    value = data[token_begin:i].decode().lower()
                    if i < size and data[i] not in _SPACES and data[i] != 0x3E:
                        raise TelegramEntityError(
                            f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = data[i]
                    i += 1
                    raw = bytearray()
                    while i < size and data[i] != quote:
                        if data[i] == 0x26:
                            code_point, after = _decode_entity(data, i)
                            if code_point:
                                raw += chr(code_point).encode("utf-8", "surrogatepass")
                                i = after
                                continue
                        raw.append(data[i])
                        i += 1
                    if i < size:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if i >= size:
                    raise TelegramEntityError(f"Unclosed start tag at byte offset {begin}")
                if (tag == "a" and name == "href") or (tag == "tg-emoji" and name == "emoji-id"):
                    argument = value
                elif tag == "code" and name == "class" and value.startswith("language-"):
                    argument = value[len("language-"):]
                elif tag == "span" and name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-"):]
            if tag == "span" and argument != "spoiler":
                raise TelegramEntityError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            nested.append(_Open(tag, argument, utf16_offset))
            i += 1
            continue
        # an end tag
        if not nested:
            raise TelegramEntityError(f"Unexpected end tag at byte offset {begin}")
        while i < size and data[i] not in _SPACES and data[i] != 0x3E:
            i += 1
        end_name = data[begin + 2:i].decode("utf-8", "replace").lower()
        while i < size and data[i] in _SPACES:
            i += 1
        if at(i) != 0x3E:
            raise TelegramEntityError(f"Unclosed end tag at byte offset {begin}")
        opened = nested[-1]
        if end_name and end_name != opened.tag:
            raise TelegramEntityError(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.tag}>", '
                f'found "</{end_name}>"')
        i += 1
        nested.pop()
        length = utf16_offset - opened.offset
        if length > 0:
            _close_entity(entities, opened, length, "".join(out))
    if nested:
        raise TelegramEntityError(
            f'Can\'t find end tag corresponding to start tag "{nested[-1].tag}"')
    if surrogate:
        raise TelegramEntityError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units")
    return "".join(out), sort_entities(entities)


# TDLib's order for entities that start and end together.
_PRIORITY = {"blockquote": 0, "expandable_blockquote": 0, "pre": 11, "code": 20, "text_link": 49,
             "text_mention": 49, "bold": 90, "italic": 91, "underline": 92, "strikethrough": 93,
             "spoiler": 94, "custom_emoji": 99}


def sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"],
                                           _PRIORITY.get(e["type"], 50)))


def _close_entity(entities: list[dict[str, Any]], opened: _Open, length: int, text: str) -> None:
    offset = opened.offset
    tag = opened.tag
    entity: dict[str, Any] = {"offset": offset, "length": length}
    if tag in _SIMPLE_TYPES or tag == "span":
        entity["type"] = _SIMPLE_TYPES.get(tag, "spoiler")
    elif tag == "blockquote":
        entity["type"] = "expandable_blockquote" if opened.argument else "blockquote"
    elif tag == "tg-emoji":
        if not opened.argument.isdigit() or int(opened.argument) == 0:
            raise TelegramEntityError("Invalid custom emoji identifier specified")
        entity.update(type="custom_emoji", custom_emoji_id=opened.argument)
    elif tag == "a":
        url = opened.argument or _utf16_slice(text, offset, length)
        user = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if user:
            entity.update(type="text_mention", user={"id": int(user.group(1))})
        else:
            normalized = _normalize_url(url)
            if normalized is None:
                return
            entity.update(type="text_link", url=normalized)
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (last is not None and last["type"] == "code" and last["offset"] == offset
                and last["length"] == length and last.get("language")):
            last["type"] = "pre"
            return
        entity["type"] = "pre"
    elif tag == "code":
        last = entities[-1] if entities else None
        if (opened.argument and last is not None and last["type"] == "pre"
                and last["offset"] == offset and last["length"] == length):
            last["language"] = opened.argument
            return
        entity["type"] = "code"
        if opened.argument:
            entity["language"] = opened.argument
    entities.append(entity)


def _utf16_slice(text: str, offset: int, length: int) -> str:
    units = text.encode("utf-16-le", "surrogatepass")
    return units[2 * offset:2 * (offset + length)].decode("utf-16-le", "replace")


_MENTION = re.compile(r"(?<![\w])@([A-Za-z0-9_]{2,32})(?![\w])")
_COMMAND = re.compile(r"(?<![\w/<>])/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{3,32}))?(?![\w/<>])")
_HASHTAG = re.compile(r"(?<![\w])#(\w{1,256})(?![\w]*#)")
_URL = re.compile(r"(?<![\w@/.])(?:https?://|www\.)[^\s<>\"]+[^\s<>\"\.,;:!?)\]']")


def detect_entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram adds to plain text on its own, with UTF-16 offsets."""
    found: list[tuple[int, int, str]] = []
    for pattern, kind in ((_MENTION, "mention"), (_COMMAND, "bot_command"),
                          (_HASHTAG, "hashtag"), (_URL, "url")):
        for match in pattern.finditer(text):
            if kind == "hashtag" and not any(ch.isalpha() for ch in match.group(1)):
                continue
            found.append((match.start(), match.end(), kind))
    found.sort()
    entities: list[dict[str, Any]] = []
    taken_until = -1
    for start, end, kind in found:
        if start < taken_until:
            continue
        taken_until = end
        entities.append({"offset": utf16_len(text[:start]), "length": utf16_len(text[start:end]),
                         "type": kind})
    return entities


def merge_entities(formatting: list[dict[str, Any]], detected: list[dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    """Formatting entities plus detected ones that do not overlap a link or code span."""
    blocking = [e for e in formatting
                if e["type"] in ("code", "pre", "text_link", "text_mention", "custom_emoji")]
    merged = list(formatting)
    for entity in detected:
        start, end = entity["offset"], entity["offset"] + entity["length"]
        if any(b["offset"] < end and start < b["offset"] + b["length"] for b in blocking):
            continue
        merged.append(entity)
    return sort_entities(merged)


def entity_text(text: str, entity: dict[str, Any]) -> str:
    """The slice of ``text`` an entity covers (offsets are UTF-16)."""
    return _utf16_slice(text, int(entity["offset"]), int(entity["length"]))
