"""Reading and JSON5-parsing config files with operator-grade error messages.

The ``json5`` package is a pure-Python parser (about 40 ms per KB), too slow for a gateway
that must start in half a second.  :func:`parse_json5` therefore tries, in order:

1. ``json.loads`` (OpenClaw itself writes plain JSON);
2. a single-pass rewrite of the common JSON5 conveniences (comments, trailing commas,
   unquoted keys, single quotes, hex/``+``/``.5`` numbers) into JSON for ``json.loads``;
   anything unusual (rare escapes, non-ASCII identifiers, syntax errors) makes it give up;
3. ``json5.loads``: the reference parser, which also produces the syntax error messages.

A property test checks that (2) agrees with ``json5.loads`` on generated JSON5 documents.
"""

from __future__ import annotations

import json
import re
from typing import Any

from openclaw.config.errors import ConfigParseError

__all__ = ["decode_config_bytes", "parse_json5"]

# json5 reports "<string>:3 Unexpected "b" at column 2".
_JSON5_ERROR = re.compile(r"^<string>:(?P<line>\d+) (?P<reason>.*?) at column (?P<column>\d+)$")

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\n\r\f\v\u00a0\ufeff\u2028\u2029]+)
  | (?P<line_comment>//[^\n\r\u2028\u2029]*)
  | (?P<block_comment>/\*.*?\*/)
  | (?P<dq>"(?:[^"\\\n\r]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*")
  | (?P<sq>'(?:[^'\\\n\r"]|\\['\\/bfnrt"]|\\u[0-9A-Fa-f]{4})*')
  | (?P<punct>[{}\[\]:,])
  | (?P<number>[+-]?(?:0[xX][0-9A-Fa-f]+|Infinity|NaN
        |(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?))
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
    """,
    re.VERBOSE | re.DOTALL,
)
_LITERALS = {"true": "true", "false": "false", "null": "null"}


def _number_to_json(text: str) -> str | None:
    sign = ""
    if text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    if text in ("Infinity", "NaN"):
        if text == "NaN":
            return "NaN"
        return "-Infinity" if sign else "Infinity"
    if text[:2] in ("0x", "0X"):
        return str(int(sign + text[2:], 16))
    if text.startswith("."):
        text = "0" + text
    mantissa, _, exponent = text.replace("E", "e").partition("e")
    if mantissa.endswith("."):
        mantissa += "0"
    return sign + mantissa + (f"e{exponent}" if exponent else "")


def _json5_to_json(text: str) -> str | None:
    """Rewrite common JSON5 into JSON, or None when the text needs the full parser."""
    out: list[str] = []
    pending_comma = False
    position = 0
    length = len(text)
    expecting_key = False
    stack: list[str] = []
    while position < length:
        match = _TOKEN.match(text, position)
        if match is None:
            return None
        position = match.end()
        kind = match.lastgroup
        token = match.group()
        if kind in ("ws", "line_comment", "block_comment"):
            continue
        if kind == "punct":
            if token in "}]":
                pending_comma = False  # a trailing comma is dropped
                if not stack:
                    return None
                stack.pop()
                out.append(token)
                expecting_key = False
                continue
            if pending_comma:
                if token in ",:":
                    return None  # ",," or ",:": let the real parser explain
                out.append(",")
                pending_comma = False
            if token == "," and (not out or out[-1] in "{[,:"):
                return None  # "{," "[," ":," — only a trailing comma after a value is fine
            if token == ",":
                pending_comma = True
                expecting_key = bool(stack) and stack[-1] == "{"
                continue
            if token == "{":
                stack.append("{")
                expecting_key = True
            elif token == "[":
                stack.append("[")
            elif token == ":":
                expecting_key = False
            out.append(token)
            continue
        if pending_comma:
            out.append(",")
            pending_comma = False
        if kind == "dq":
            out.append(token)
        elif kind == "sq":
            body = token[1:-1].replace("\\'", "'").replace('\\"', '"')
            out.append('"' + body.replace('"', '\\"') + '"')
        elif kind == "number":
            if expecting_key:
                return None
            converted = _number_to_json(token)
            if converted is None:
                return None
            out.append(converted)
        else:  # identifier
            if expecting_key:
                out.append('"' + token + '"')
            elif token in _LITERALS:
                out.append(token)
            else:
                return None
        expecting_key = False
    if pending_comma or stack:
        return None
    # Tokens stay separated so that "[1 2]" cannot turn into "[12]".
    return " ".join(out)


def decode_config_bytes(data: bytes, file: str, *, main_file: str | None = None) -> str:
    """UTF-8 text of a config file (a leading BOM is dropped)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigParseError(
            file, f"file is not valid UTF-8 (byte offset {error.start})", main_file=main_file
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def _fast_parse(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    converted = _json5_to_json(text)
    if converted is not None:
        try:
            return json.loads(converted)
        except (ValueError, RecursionError):
            pass
    raise LookupError  # needs the reference parser


def parse_json5(text: str, file: str, *, main_file: str | None = None) -> Any:
    """Parse JSON5 text; syntax errors become :class:`ConfigParseError` with line and column."""
    if not text.strip():
        raise ConfigParseError(
            file, "the file is empty (use {} for an empty config)", main_file=main_file
        )
    try:
        return _fast_parse(text)
    except LookupError:
        pass
    import json5  # imported lazily: only needed for unusual JSON5 and for error messages

    try:
        return json5.loads(text)
    except RecursionError:
        raise ConfigParseError(file, "nesting is too deep", main_file=main_file) from None
    except ValueError as error:
        message = str(error).strip()
        match = _JSON5_ERROR.match(message)
        if match:
            raise ConfigParseError(
                file,
                match.group("reason"),
                line=int(match.group("line")),
                column=int(match.group("column")),
                main_file=main_file,
            ) from None
        raise ConfigParseError(file, message or "invalid JSON5", main_file=main_file) from None
