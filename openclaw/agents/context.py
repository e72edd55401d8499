"""The model's context from a transcript: the messages after the last compaction, failed
turns dropped, every tool call paired with a result (a synthetic one when a crash or the
step limit left it without), and the caller's answers to its own tool calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openclaw.agents.requests import ClientToolResult
from openclaw.providers.types import ABORTED, ERROR


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content
                       if isinstance(b, dict) and b.get("type") == "text")
    return ""


def context_messages(records: Sequence[Mapping[str, Any]], *, close_tail: bool = True
                     ) -> list[dict[str, Any]]:
    """Model context from transcript records: messages after the last compaction (whose
    summary leads), failed/aborted empty assistant turns dropped, tool calls kept with their
    results. A tool call without a result gets a synthetic error result; with ``close_tail``
    false, not the calls of a last assistant turn (see :func:`dangling_tool_calls`)."""
    start = 0
    summary: str | None = None
    for index, record in enumerate(records):
        if record.get("type") == "compaction":
            first = record.get("firstKeptEntryId")
            summary = str(record.get("summary") or "")
            start = next((i for i, r in enumerate(records) if r.get("id") == first), index + 1)
    messages: list[dict[str, Any]] = []
    if summary:
        messages.append({"role": "user", "content": f"[Conversation summary]\n{summary}"})
    for record in records[start:]:
        if record.get("type") != "message":
            continue
        message = record.get("message")
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "assistant" and message.get("stopReason") in (ERROR, ABORTED):
            text = _text_of(message.get("content"))
            if not text:
                continue
            message = {**message, "content": [{"type": "text", "text": text}]}
        if role in ("user", "assistant", "toolResult"):
            messages.append(message)
    # a tool call without its result (crash between the two, a caller's tool never answered)
    # gets a synthetic error result
    # (after the results that are there, as the run engine adds them in memory)
    tail = -1 if close_tail else _last_assistant(messages)
    fixed: list[dict[str, Any]] = []
    owed: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if owed and role != "toolResult":
            fixed.extend(owed)
            owed = []
        fixed.append(message)
        if role != "assistant" or index == tail:
            continue
        calls = _calls_of(message)
        if not calls:
            continue
        answered = {m.get("toolCallId") for m in messages[index + 1:]
                    if m.get("role") == "toolResult"}
        owed = missing_results([c for c in calls if c.get("id") not in answered])
    fixed.extend(owed)
    return fixed


def _calls_of(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "toolCall"]


def _last_assistant(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index of the last assistant message when only its tool results follow it, else -1."""
    for index in range(len(messages) - 1, -1, -1):
        role = messages[index].get("role")
        if role == "assistant":
            return index
        if role != "toolResult":
            return -1
    return -1


def dangling_tool_calls(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls of the context's last assistant turn still without a result (nothing
    but tool results follows it): the caller's tools of a run that ended at them, or calls a
    crash or the step limit left behind."""
    index = _last_assistant(messages)
    if index < 0:
        return []
    answered = {m.get("toolCallId") for m in messages[index + 1:]}
    return [c for c in _calls_of(messages[index]) if c.get("id") not in answered]


def missing_results(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"role": "toolResult", "toolCallId": call.get("id"), "toolName": call.get("name"),
             "content": [{"type": "text", "text": "Tool result missing (interrupted)."}],
             "isError": True} for call in calls]


def caller_answers(calls: Sequence[Mapping[str, Any]], results: Sequence[ClientToolResult]
             ) -> list[ClientToolResult] | None:
    """The caller's result for each of ``calls``, in their order; None unless every call
    has one."""
    if not calls or not results:
        return None
    by_id = {result.call_id: result for result in results}
    answers = [by_id.get(str(call.get("id"))) for call in calls]
    if any(answer is None for answer in answers):
        return None
    return [answer for answer in answers if answer is not None]


__all__ = ["caller_answers", "context_messages", "dangling_tool_calls", "missing_results"]
