"""Agent workspaces: bootstrap files on first use, and the system prompt built from them.

As the real gateway (2026.9.6): a brand-new workspace (none of ``AGENTS.md``, ``SOUL.md``,
``IDENTITY.md``, ``USER.md``, ``memory/``) gets those four files from the bundled templates plus
the one-time ``BOOTSTRAP.md``; an existing workspace only gets missing core files;
``agents.defaults.skipBootstrap`` creates nothing. The files are injected into the system
prompt as "# Project Context" in the order AGENTS, SOUL, IDENTITY, USER, BOOTSTRAP, MEMORY:
a missing required file becomes ``[MISSING] Expected at: <path>``, optional ``USER.md`` and
``MEMORY.md`` are omitted when absent, an empty file is skipped, each file is cut at
``bootstrapMaxChars`` (``USER.md`` at 4000) keeping 75 % head / 25 % tail with the real
truncation marker, and all of them together at ``bootstrapTotalMaxChars``.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from collections.abc import Sequence
from importlib import resources
from typing import Final

import attrs

GENERATED: Final = ("AGENTS.md", "SOUL.md", "IDENTITY.md", "USER.md")
PROMPT_ORDER: Final = ("AGENTS.md", "SOUL.md", "IDENTITY.md", "USER.md", "BOOTSTRAP.md",
                       "MEMORY.md")
OPTIONAL: Final = frozenset({"USER.md", "MEMORY.md", "BOOTSTRAP.md"})
USER_MAX_CHARS: Final = 4000
MIN_FILE_BUDGET: Final = 64
DEFAULT_MAX_CHARS: Final = 20000
DEFAULT_TOTAL_MAX_CHARS: Final = 60000


def template(name: str) -> str:
    """A workspace bootstrap template of openclaw 2026.9.6 (``docs/reference/templates``, MIT,
    Copyright (c) 2026 OpenClaw Foundation), front matter stripped as the real
    ``loadTemplate`` does; shipped as package data in ``openclaw/agents/templates/``."""
    return (resources.files("openclaw.agents") / "templates" / name).read_text(encoding="utf-8")


def ensure_workspace(directory: str, *, skip_bootstrap: bool = False) -> list[str]:
    """Create the workspace and seed missing bootstrap files (blocking: run in a thread)."""
    os.makedirs(directory, exist_ok=True)
    if skip_bootstrap:
        return []
    brand_new = not any(os.path.exists(os.path.join(directory, name))
                        for name in (*GENERATED, "memory")) and not _has_content(directory)
    created: list[str] = []
    names = (*GENERATED, "BOOTSTRAP.md") if brand_new else GENERATED
    for name in names:
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(template(name))
        created.append(name)
    return created


def _has_content(directory: str) -> bool:
    try:
        return any(not entry.startswith(".") for entry in os.listdir(directory))
    except OSError:
        return False


@attrs.frozen
class ContextFile:
    name: str
    path: str
    content: str
    truncated: bool = False


def _trim(content: str, name: str, max_chars: int) -> tuple[str, bool]:
    trimmed = content.rstrip()
    if len(trimmed) <= max_chars:
        return trimmed, False

    def marker(head: int, tail: int) -> str:
        return "\n".join(["", f"[...truncated, read {name} for full content...]",
                          f"…(truncated {name}: kept {head}+{tail} chars of {len(trimmed)})…",
                          ""])

    head = tail = 0
    for _ in range(3):
        budget = max(0, max_chars - len(marker(head, tail)) - 2)
        head, tail = int(budget * 0.75), int(budget * 0.25)
    text = "\n".join(part for part in (trimmed[:head], marker(head, tail),
                                       trimmed[-tail:] if tail else "") if part)
    return text[:max_chars], True


def load_context_files(directory: str, *, max_chars: int = DEFAULT_MAX_CHARS,
                       total_max_chars: int = DEFAULT_TOTAL_MAX_CHARS,
                       names: Sequence[str] = PROMPT_ORDER) -> list[ContextFile]:
    """The bootstrap files to inject (blocking: run in a thread)."""
    remaining = max(1, total_max_chars)
    files: list[ContextFile] = []
    for name in names:
        if remaining <= 0:
            break
        path = os.path.join(directory, name)
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                content = handle.read()
        except FileNotFoundError:
            if name in OPTIONAL:
                continue
            text = f"[MISSING] Expected at: {path}"[:remaining]
            remaining -= len(text)
            files.append(ContextFile(name, path, text))
            continue
        except OSError:
            continue
        if not content.strip():
            continue
        if remaining < MIN_FILE_BUDGET:
            break
        budget = min(max_chars, USER_MAX_CHARS) if name == "USER.md" else max_chars
        text, truncated = _trim(content, name, max(1, min(budget, remaining)))
        remaining -= len(text)
        files.append(ContextFile(name, path, text, truncated))
    return files


@attrs.frozen
class PromptInputs:
    agent_id: str
    workspace: str
    model_ref: str
    tools: Sequence[tuple[str, str]]          # (name, one-line summary)
    context_files: Sequence[ContextFile]
    channel: str = "webchat"
    user_timezone: str | None = None
    extra: str | None = None
    agent_name: str | None = None
    # A small local model (a few thousand tokens of context, no tool calling): the compact
    # prompt, without the tool list and the workspace bootstrap it could not use.
    compact: bool = False


def build_compact_prompt(inputs: PromptInputs) -> str:
    """A few lines a 100M-parameter model follows: who it is, answer directly, and the
    caller's own instructions. No tools, no workspace files, no runtime block."""
    who = f"You are {inputs.agent_name}, " if inputs.agent_name else "You are "
    lines = [f"{who}a helpful assistant running inside OpenClaw.",
             "Answer the user's message directly and briefly."]
    if inputs.extra:
        lines += ["", inputs.extra.strip()]
    return "\n".join(lines) + "\n"


def build_system_prompt(inputs: PromptInputs) -> str:
    if inputs.compact:
        return build_compact_prompt(inputs)
    lines = ["You are a personal assistant running inside OpenClaw.", ""]
    if inputs.tools:
        lines += ["## Tooling", "Tool availability (filtered by policy):"]
        lines += [f"- {name}: {summary}" for name, summary in inputs.tools]
        lines += ["Tool names are case-sensitive. Call tools exactly as listed.", ""]
    lines += ["## Workspace", f"Your working directory is: {inputs.workspace}",
              "Treat this directory as the single global workspace for file operations "
              "unless explicitly instructed otherwise.", ""]
    tz = inputs.user_timezone or time.strftime("%Z") or "UTC"
    lines += ["## Current Date & Time", f"Time zone: {tz}", ""]
    if inputs.extra:
        lines += ["## Extra Instructions", inputs.extra.strip(), ""]
    files = inputs.context_files
    if files:
        lines += ["# Project Context", "", "Loaded project context:"]
        names = {file.name for file in files}
        if "SOUL.md" in names:
            lines.append("SOUL.md: persona/tone. Follow it unless higher-priority instructions "
                         "override.")
        if "MEMORY.md" in names:
            lines.append("MEMORY.md: durable non-profile facts and decisions; use when relevant "
                         "unless higher-priority instructions override.")
        if "USER.md" in names:
            lines.append("USER.md: durable user preferences and profile directives; follow "
                         "unless higher-priority instructions override.")
        if any(file.truncated for file in files):
            lines += ["Some workspace bootstrap files were truncated before Project Context "
                      "injection.",
                      "Treat Project Context as partial and read the relevant files directly if "
                      "details seem missing."]
        lines.append("")
        for file in files:
            lines += [f"## {file.path}", "", file.content, ""]
    host = socket.gethostname()
    lines += ["## Runtime",
              f"Runtime: agent={inputs.agent_id} | host={host} | os={platform.system()} "
              f"({platform.machine()}) | model={inputs.model_ref} | channel={inputs.channel}"]
    return "\n".join(lines).rstrip() + "\n"
