"""The system instruction Gemini Live gets for a voice session (spec §2.2).

Sections joined by blank lines: what the brain is (OpenClaw tools, the memory rule) or a plain
assistant line when the brain is off; the conversation rules (tools answer "working" first);
the device context; what the user said about themselves; the recent conversation.
"""

from __future__ import annotations

from typing import Final

from openclaw.voiceclaw.protocol import VoiceSessionConfig

__all__ = ["HISTORY_TURNS", "build_instructions"]

HISTORY_TURNS: Final = 12

BRAIN_CAPABILITIES: Final = """## Your Brain

You are running inside OpenClaw as the real-time brain. Use OpenClaw tools directly for anything \
beyond basic conversation:
- memory and prior conversations
- calendar, tasks, files, and local tools
- web research and URLs the user asks you to inspect
- factual questions where current or user-specific context matters
- creating, updating, or remembering durable information

When in doubt, use the relevant OpenClaw tool. Do not claim you lack access until an OpenClaw \
tool confirms the task cannot be done.

## Mandatory Memory Rule

You do not have reliable memory of past sessions inside this live conversation. If the user asks \
what happened earlier, recently, last time, today, yesterday, or in any prior conversation, use \
OpenClaw memory or session-history tools before answering."""

PLAIN_ASSISTANT: Final = (
    "You are a helpful voice assistant. Keep responses conversational and concise.")

CONVERSATION_RULES: Final = """## Conversation Rules

**Timing:**
- If the user is talking or thinking, stay quiet.
- Treat incomplete sentences and mid-story pauses as the user still thinking.
- Respond when the user's thought is complete.
- Keep spoken replies concise.

**Tool call timing:**
- OpenClaw tools run asynchronously after an initial "working" result.
- Do not answer with final results from the "working" result.
- If a tool is still running, say a short verbal bridge like "One sec, let me check."
- Do not fill the entire wait with filler.
- When the real OpenClaw tool result is injected, share it naturally if it is still relevant.

**Tone:**
- Be conversational, warm, and direct.
- No markdown, no emoji, no visible formatting.
- Never wrap up the session unless the user does."""

_DEVICE_FIELDS: Final = (("timezone", "timezone"), ("locale", "locale"),
                         ("deviceModel", "device"), ("location", "location"))


def build_instructions(config: VoiceSessionConfig) -> str:
    sections = [BRAIN_CAPABILITIES if config.brain else PLAIN_ASSISTANT, CONVERSATION_RULES]
    device = [f"{label}: {config.device_context[name]}" for name, label in _DEVICE_FIELDS
              if config.device_context.get(name)]
    if device:
        sections.append("## Device Context\n" + ", ".join(device))
    about = (config.instructions_override or "").strip()
    if about:
        sections.append(f"## About The User\n{about}")
    if config.conversation_history:
        lines = [f"{'User' if turn.role == 'user' else 'Assistant'}: {turn.text.strip()}"
                 for turn in config.conversation_history[-HISTORY_TURNS:]]
        sections.append("## Recent Conversation History\n" + "\n".join(lines))
    return "\n\n".join(sections)
