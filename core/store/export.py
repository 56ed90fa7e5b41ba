"""Chats and comparisons as Markdown (to read and share) and JSON (to import back, losslessly).

A chat's JSON holds every branch: messages refer to their parent by a number local to the file
("ref"), so exporting an imported chat gives the same file again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import GlassboxError
from core.store.chats import FINAL_STATUSES, ROLES, ChatStore, ChatSummary, StoredMessage
from core.store.comparisons import Comparison

CHAT_FORMAT = "glassbox-chat"
COMPARISON_FORMAT = "glassbox-comparison"
VERSION = 1

_LABELS = {"user": "You", "assistant": "Assistant", "system": "System"}


class ExportFileError(GlassboxError):
    """A file cannot be imported: not JSON, not a Glassbox export, or damaged."""


def chat_to_json(store: ChatStore, chat_id: int) -> dict[str, Any]:
    """The whole chat, every branch, as one JSON-ready object."""
    chat = store.get_chat(chat_id)
    messages = store.all_messages(chat_id)
    refs = {m.id: n for n, m in enumerate(messages, start=1)}
    path = store.messages(chat_id)
    return {
        "format": CHAT_FORMAT, "version": VERSION,
        "chat": {"title": chat.title, "system_prompt": chat.system_prompt,
                 "model_path": chat.model_path, "collections": list(chat.collections),
                 "created_at": chat.created_at, "updated_at": chat.updated_at},
        "active_ref": refs[path[-1].id] if path else None,
        "messages": [{"ref": refs[m.id], "parent_ref": refs.get(m.parent_id or -1),
                      "role": m.role, "content": m.content,
                      # a reply still streaming in another window exports as it stands
                      "status": "interrupted" if m.status == "streaming" else m.status,
                      "created_at": m.created_at, "stats": m.stats, "grounding": m.grounding,
                      "agent_trace": m.agent_trace}
                     for m in messages],
    }


def chat_to_markdown(chat: ChatSummary, messages: list[StoredMessage]) -> str:
    """The conversation on screen (one branch) as Markdown."""
    lines = [f"# {chat.title}", ""]
    if chat.system_prompt.strip():
        lines += ["**System prompt:**", "", _quote(chat.system_prompt), ""]
    for m in messages:
        index, count = m.branch_position
        branch = f" (alternative {index} of {count})" if count > 1 else ""
        lines += [f"### {_LABELS.get(m.role, m.role)}{branch}", "", m.content.rstrip(), ""]
        if m.status in ("interrupted", "failed"):
            lines += [f"*({m.status})*", ""]
        if m.stats:
            lines += [f"*{m.stats.get('completion_tokens', 0)} tokens · "
                      f"{m.stats.get('tokens_per_s', 0):.1f} tokens/s*", ""]
    return "\n".join(lines).rstrip() + "\n"


def read_export(path: Path, expected: str) -> dict[str, Any]:
    """Parse an export file and check that it is the `expected` kind, or say what it is."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ExportFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise ExportFileError(f"{path.name} is not a JSON file ({exc}). Choose a file saved with "
                           "Export as JSON.") from exc
    kind = data.get("format") if isinstance(data, dict) else None
    if kind != expected:
        what = {CHAT_FORMAT: "a Glassbox chat", COMPARISON_FORMAT: "a Glassbox comparison"}
        found = f"it is {what[kind]}" if kind in what else "it has no Glassbox format mark"
        raise ExportFileError(f"{path.name} is not {what[expected]} export: {found}.")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise ExportFileError(f"{path.name} was exported by a newer Glassbox (format version "
                           f"{data.get('version')}); update Glassbox to import it.")
    return data


def import_chat(store: ChatStore, data: dict[str, Any]) -> ChatSummary:
    """Add the exported chat as a new chat (every branch, the same one on screen)."""
    try:
        chat = data["chat"]
        messages = [_checked_message(m) for m in data["messages"]]
        refs = [m["ref"] for m in messages]
        if len(set(refs)) != len(refs):
            raise ValueError("two messages share a ref")
        known: set[int] = set()
        for m in messages:  # parents come first, so the tree can be rebuilt in one pass
            if m["parent_ref"] is not None and m["parent_ref"] not in known:
                raise ValueError(f"message {m['ref']} follows a message not before it")
            known.add(m["ref"])
        active = data.get("active_ref")
        if active is not None and active not in known:
            raise ValueError("the branch on screen names a missing message")
        title, system_prompt = str(chat["title"]), str(chat.get("system_prompt", ""))
        collections = [str(c) for c in chat.get("collections", [])]
        created, updated = float(chat["created_at"]), float(chat["updated_at"])
        model = chat.get("model_path")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ExportFileError(f"The chat export is damaged and was not imported: {exc}.") from exc
    return store.restore_chat(title, system_prompt, model if isinstance(model, str) else None,
                              collections, created, updated, messages, active)


def _checked_message(m: Any) -> dict[str, Any]:
    if not isinstance(m, dict):
        raise ValueError("a message is not an object")
    if m.get("role") not in ROLES or m.get("status") not in FINAL_STATUSES:
        raise ValueError(f"message {m.get('ref')} has an unknown role or status")
    if not isinstance(m.get("content"), str) or not isinstance(m.get("ref"), int):
        raise ValueError(f"message {m.get('ref')} has no text or no ref")
    for key in ("stats", "grounding", "agent_trace"):
        if m.get(key) is not None and not isinstance(m[key], dict):
            raise ValueError(f"message {m['ref']}: {key} must be an object")
    float(m["created_at"])
    return m


def comparison_to_json(comparison: Comparison) -> dict[str, Any]:
    return {"format": COMPARISON_FORMAT, "version": VERSION, "title": comparison.title,
            "prompt": comparison.prompt, "created_at": comparison.created_at,
            "variants": [{**r.variant.to_json(), "output": r.output, "status": r.status,
                          "stats": r.stats} for r in comparison.results]}


def comparison_to_markdown(comparison: Comparison) -> str:
    lines = [f"# {comparison.title}", "", "**Prompt:**", "", _quote(comparison.prompt), "",
             "| Variant | Model | Temperature | Examples | Tokens | Tokens/s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in comparison.results:
        stats = r.stats or {}
        model = Path(r.variant.model_path).name if r.variant.model_path else "chat's model"
        lines.append(f"| {_cell(r.variant.label)} | {_cell(model)} | "
                     f"{r.variant.sampling.temperature:g} | {r.variant.example_count} | "
                     f"{stats.get('completion_tokens', '–')} | "
                     f"{stats.get('tokens_per_s', 0):.1f} |")
    for r in comparison.results:
        lines += ["", f"## {r.variant.label}", ""]
        if r.variant.system_prompt:
            lines += ["System prompt:", "", _quote(r.variant.system_prompt), ""]
        lines.append(r.output.rstrip() or f"*({r.status}, no text)*")
    return "\n".join(lines).rstrip() + "\n"


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise GlassboxError(f"Cannot write {path}: {exc.strerror or exc}. Choose another "
                            "folder.") from exc


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in text.strip().split("\n"))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
