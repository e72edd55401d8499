"""Transcripts as people read them: the messages ``chat.history`` and the HTTP session
history show (silent ``NO_REPLY`` turns hidden, long texts clipped)."""

from __future__ import annotations

from typing import Any


def display_messages(records: list[dict[str, Any]], limit: int, max_chars: int | None
                     ) -> list[dict[str, Any]]:
    """Transcript messages as ``chat.history`` shows them (NO_REPLY rows dropped)."""
    out: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        if record.get("type") != "message":
            continue
        message = record.get("message")
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant":
            texts = [b.get("text", "") for b in message.get("content") or []
                     if isinstance(b, dict) and b.get("type") == "text"]
            has_calls = any(isinstance(b, dict) and b.get("type") == "toolCall"
                            for b in message.get("content") or [])
            if not has_calls and "".join(texts).strip().upper() == "NO_REPLY":
                continue
        shown = dict(message)
        if max_chars is not None:
            shown = _clip(shown, max_chars)
        shown["__openclaw"] = {"id": record.get("id"), "seq": index}
        out.append(shown)
    return out[-limit:]


def _clip(message: dict[str, Any], max_chars: int) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str) and len(content) > max_chars:
        return {**message, "content": content[:max_chars] + "…"}
    if isinstance(content, list):
        clipped = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str) and \
                    len(block["text"]) > max_chars:
                block = {**block, "text": block["text"][:max_chars] + "…"}
            clipped.append(block)
        return {**message, "content": clipped}
    return message
