"""The workspace file tools: ``read``, ``write``, ``edit``, ``apply_patch``.

Every path is confined to the agent workspace (relative paths resolve against it; anything
resolving outside it, symlinks included, is refused). The work is blocking file I/O, so each
tool runs through the context's ``run_blocking`` (a thread in production). Files are replaced
atomically through :mod:`openclaw.atomic_files` (a unique temp file, fsync, rename), keeping
the mode of the file they replace.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from openclaw.agents.tools.core import (
    Runner,
    Tool,
    ToolContext,
    ToolFailure,
    ToolOutput,
    object_schema,
    string_schema,
)
from openclaw.atomic_files import atomic_write_bytes

READ_MAX_LINES: Final = 2000
READ_MAX_BYTES: Final = 51200


def confine(workspace: str, raw: Any) -> str:
    """Absolute path of ``raw`` inside ``workspace`` (symlinks resolved), else ToolFailure."""
    if not isinstance(raw, str) or not raw.strip():
        raise ToolFailure("path is required")
    text = raw.strip()
    if text.startswith("@"):
        text = text[1:]
    text = os.path.expanduser(text) if text.startswith("~") else text
    root = os.path.realpath(workspace)
    candidate = text if os.path.isabs(text) else os.path.join(root, text)
    resolved = os.path.realpath(candidate)
    if resolved != root and not resolved.startswith(root + os.sep):
        raise ToolFailure(f"Path escapes workspace root ({workspace}): {raw}")
    return resolved


def _display(workspace: str, path: str) -> str:
    root = os.path.realpath(workspace)
    return os.path.relpath(path, root) if path.startswith(root) else path


def _replace_text(path: str, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` to ``path`` atomically, creating parent directories.

    An existing file keeps its mode (as an in-place write would); a new one gets ``mode``,
    or the plain ``open()`` mode (0666 less the umask).
    """
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, keep_mode=mode is None,
                       directory_mode=0o777)



def read_file(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    path = confine(workspace, args.get("path"))
    if not os.path.exists(path):
        if args.get("optional") is True:
            return ToolOutput(f"File not found: {args.get('path')}",
                              details={"status": "not_found"})
        raise ToolFailure(f"File not found: {path}.")
    if os.path.isdir(path):
        raise ToolFailure(f"Path is a directory: {args.get('path')}")
    offset = args.get("offset")
    limit = args.get("limit")
    start = int(offset) - 1 if isinstance(offset, int) and offset >= 1 else 0
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.read().split("\n")
    total = len(lines)
    count = int(limit) if isinstance(limit, int | float) and limit > 0 else READ_MAX_LINES
    selected = lines[start:start + min(count, READ_MAX_LINES)]
    text = "\n".join(selected)
    notes = []
    if len(text.encode()) > READ_MAX_BYTES:
        text = text.encode()[:READ_MAX_BYTES].decode("utf-8", "ignore")
        notes.append(f"[Truncated: {READ_MAX_BYTES // 1024}KB limit]")
    end = start + len(selected)
    if end < total:
        notes.append(f"[Showing lines {start + 1}-{end} of {total}. Use offset={end + 1} to "
                     "continue.]")
    return ToolOutput(text + ("\n\n" + "\n".join(notes) if notes else ""))


def write_file(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    path = confine(workspace, args.get("path"))
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolFailure("content must be a string")
    created = not os.path.exists(path)
    _replace_text(path, content)
    size = len(content.encode())
    return ToolOutput(f"Successfully wrote {size} bytes to {args.get('path')}",
                      details={"changed": True, "created": created})


def edit_file(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    path = confine(workspace, args.get("path"))
    edits = args.get("edits")
    if isinstance(edits, str):
        try:
            edits = json.loads(edits)
        except ValueError:
            edits = None
    if edits is None and isinstance(args.get("oldText"), str):
        edits = [{"oldText": args.get("oldText"), "newText": args.get("newText", "")}]
    if not isinstance(edits, list) or not edits:
        raise ToolFailure("edits must be a non-empty array of {oldText, newText}")
    if not os.path.isfile(path):
        raise ToolFailure(f"File not found: {path}.")
    with open(path, encoding="utf-8") as handle:
        original = handle.read()
    spans: list[tuple[int, int, str]] = []
    for edit in edits:
        old = edit.get("oldText") if isinstance(edit, dict) else None
        new = edit.get("newText", "") if isinstance(edit, dict) else None
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise ToolFailure("each edit needs a non-empty oldText and a newText string")
        index = original.find(old)
        if index < 0:
            raise ToolFailure(f"Could not find the exact text in {args.get('path')}. The old "
                              "text must match exactly including all whitespace and newlines.")
        if original.find(old, index + 1) >= 0:
            raise ToolFailure(f"Found multiple occurrences of the text in {args.get('path')}. "
                              "Provide more context to make it unique.")
        spans.append((index, index + len(old), new))
    spans.sort()
    for (_, end, _), (start, _, _) in itertools.pairwise(spans):
        if start < end:
            raise ToolFailure("edits overlap; merge nearby changes into one edit")
    out, cursor = [], 0
    for start, end, new in spans:
        out.append(original[cursor:start])
        out.append(new)
        cursor = end
    out.append(original[cursor:])
    updated = "".join(out)
    if updated == original:
        return ToolOutput(f"No changes made to {args.get('path')}.", details={"changed": False})
    _replace_text(path, updated)
    return ToolOutput(f"Successfully replaced {len(spans)} block(s) in {args.get('path')}.",
                      details={"changed": True})


# apply_patch: the "*** Begin Patch" envelope (Add / Delete / Update [+ Move to] hunks).


@attrs.define
class _Chunk:
    context: str | None
    old: list[str]
    new: list[str]
    eof: bool = False


def parse_patch(text: str) -> list[dict[str, Any]]:
    lines = text.strip().split("\n")
    lines = [line.rstrip("\r") for line in lines]
    if lines and lines[0] in ("<<EOF", "<<'EOF'", '<<"EOF"') and lines[-1].endswith("EOF"):
        lines = lines[1:-1]
    if not lines or lines[0].strip() != "*** Begin Patch":
        raise ToolFailure("The first line of the patch must be '*** Begin Patch'")
    if lines[-1].strip() != "*** End Patch":
        raise ToolFailure("The last line of the patch must be '*** End Patch'")
    body = lines[1:-1]
    hunks: list[dict[str, Any]] = []
    i = 0
    while i < len(body):
        line = body[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("*** Add File: "):
            path, contents = line[14:], []
            i += 1
            while i < len(body) and body[i].startswith("+"):
                contents.append(body[i][1:])
                i += 1
            hunks.append({"kind": "add", "path": path,
                          "contents": "".join(f"{c}\n" for c in contents)})
            continue
        if line.startswith("*** Delete File: "):
            hunks.append({"kind": "delete", "path": line[17:]})
            i += 1
            continue
        if line.startswith("*** Update File: "):
            path = line[17:]
            i += 1
            move = None
            if i < len(body) and body[i].strip().startswith("*** Move to: "):
                move = body[i].strip()[13:]
                i += 1
            chunks: list[_Chunk] = []
            current: _Chunk | None = None
            while i < len(body) and not body[i].startswith("***"):
                raw = body[i]
                if raw == "@@" or raw.startswith("@@ "):
                    current = _Chunk(raw[3:] if raw.startswith("@@ ") else None, [], [])
                    chunks.append(current)
                elif current is None and raw.strip() == "":
                    pass
                else:
                    if current is None:
                        current = _Chunk(None, [], [])
                        chunks.append(current)
                    marker, rest = (raw[:1], raw[1:]) if raw else (" ", "")
                    if marker == "+":
                        current.new.append(rest)
                    elif marker == "-":
                        current.old.append(rest)
                    elif marker == " ":
                        current.old.append(rest)
                        current.new.append(rest)
                    else:
                        raise ToolFailure(f"Invalid patch line in {path}: {raw!r}")
                i += 1
            if i < len(body) and body[i].strip() == "*** End of File":
                if chunks:
                    chunks[-1].eof = True
                i += 1
            if not chunks:
                raise ToolFailure(f"Update file hunk for path '{path}' is empty")
            hunks.append({"kind": "update", "path": path, "move": move, "chunks": chunks})
            continue
        raise ToolFailure(f"'{line}' is not a valid hunk header. Valid hunk headers: "
                          "'*** Add File: {path}', '*** Delete File: {path}', "
                          "'*** Update File: {path}'")
    return hunks


def _seek(lines: list[str], pattern: list[str], start: int, eof: bool) -> int:
    if not pattern:
        return len(lines) if eof else start
    for transform in (lambda s: s, str.rstrip, str.strip):
        target = [transform(p) for p in pattern]
        candidates = range(len(lines) - len(pattern), start - 1, -1) if eof else \
            range(start, len(lines) - len(pattern) + 1)
        for index in candidates:
            if [transform(x) for x in lines[index:index + len(pattern)]] == target:
                return index
    return -1


def _apply_chunks(original: str, chunks: list[_Chunk], path: str) -> str:
    lines = original.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    cursor = 0
    replacements: list[tuple[int, int, list[str]]] = []
    for chunk in chunks:
        if chunk.context:
            found = _seek(lines, [chunk.context], cursor, False)
            if found < 0:
                raise ToolFailure(f"Failed to find context '{chunk.context}' in {path}")
            cursor = found + 1
        index = _seek(lines, chunk.old, cursor, chunk.eof)
        if index < 0:
            raise ToolFailure(f"Failed to find expected lines in {path}:\n" + "\n".join(chunk.old))
        replacements.append((index, index + len(chunk.old), chunk.new))
        cursor = index + len(chunk.old)
    for start, end, new in sorted(replacements, reverse=True):
        lines[start:end] = new
    return "\n".join(lines) + "\n"


def apply_patch(workspace: str, args: Mapping[str, Any]) -> ToolOutput:
    text = args.get("input")
    if not isinstance(text, str) or not text.strip():
        raise ToolFailure("Provide a patch input.")
    hunks = parse_patch(text)
    if not hunks:
        raise ToolFailure("No files were modified.")
    summary: dict[str, list[str]] = {"added": [], "modified": [], "deleted": []}
    for hunk in hunks:
        path = confine(workspace, hunk["path"])
        shown = _display(workspace, path)
        if hunk["kind"] == "add":
            if os.path.exists(path):
                raise ToolFailure(f'File already exists: {shown}. Use "*** Update File: '
                                  f'{shown}" to change it.')
            _replace_text(path, hunk["contents"])
            summary["added"].append(shown)
        elif hunk["kind"] == "delete":
            if not os.path.isfile(path):
                raise ToolFailure(f"File not found: {shown}")
            os.remove(path)
            summary["deleted"].append(shown)
        else:
            if not os.path.isfile(path):
                raise ToolFailure(f"File not found: {shown}")
            with open(path, encoding="utf-8") as handle:
                updated = _apply_chunks(handle.read(), hunk["chunks"], shown)
            target = confine(workspace, hunk["move"]) if hunk.get("move") else path
            _replace_text(target, updated, mode=stat.S_IMODE(os.stat(path).st_mode))
            if target != path:
                os.remove(path)
            summary["modified"].append(_display(workspace, target))
    lines = ["Success. Updated the following files:"]
    lines += [f"A {p}" for p in summary["added"]] + [f"M {p}" for p in summary["modified"]] + \
        [f"D {p}" for p in summary["deleted"]]
    return ToolOutput("\n".join(lines), details={"summary": summary})


def blocking(func: Callable[[str, Mapping[str, Any]], ToolOutput]) -> Runner:
    async def run(ctx: ToolContext, args: Mapping[str, Any]) -> ToolOutput:
        result: ToolOutput = await ctx.run_blocking(func, ctx.workspace, args)
        return result

    return run


PATH: Final = string_schema("File path; relative/absolute.")

FS_TOOLS: Final[tuple[Tool, ...]] = (
    Tool("read", "Read file contents",
         "Read text file. Text caps 2000 lines or 50KB. Continue with offset/limit.",
         object_schema({
             "path": PATH,
             "offset": {"type": "integer", "minimum": 1, "description": "Start line; 1-based."},
             "limit": {"type": "number", "description": "Max lines."},
             "optional": {"type": "boolean",
                          "description": "Missing paths return not_found instead of failing."}},
             ["path"]),
         blocking(read_file)),
    Tool("write", "Create or overwrite files",
         "Write content to a file, creating parent directories. Overwrites existing files.",
         object_schema({"path": PATH, "content": string_schema("File content.")},
                       ["path", "content"]),
         blocking(write_file)),
    Tool("edit", "Make precise edits",
         "Edit a file with exact targeted replacements (oldText must match exactly and be "
         "unique).",
         object_schema({"path": PATH, "edits": {
             "type": "array", "description": "Targeted replacements against the original file; "
             "no overlap/nesting.",
             "items": object_schema(
                 {"oldText": string_schema("Exact original text; unique and non-overlapping."),
                  "newText": string_schema("Replacement text.")}, ["oldText", "newText"])}},
             ["path", "edits"]),
         blocking(edit_file)),
    Tool("apply_patch", "Patch files",
         "Patch one/many files. Input requires *** Begin Patch and *** End Patch.",
         object_schema(
             {"input": string_schema("Patch content using the *** Begin Patch/End Patch format.")},
             ["input"]),
         blocking(apply_patch)),
)
