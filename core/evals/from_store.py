"""Eval sets made from what the user already has: a chat (each question with the answer it
got, as the reference a model should match) or a saved comparison (its prompt, with every
complete column as an accepted reference). Written as JSONL, so they run, resume and can be
edited like any other set file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.atomic import write_text_atomic
from core.evals.sets import EvalItem, EvalSetError

if TYPE_CHECKING:
    from core.store import ChatStore


def items_from_chat(store: ChatStore, chat_id: int) -> list[EvalItem]:
    """One item per question of the chat's current branch that got a complete answer."""
    messages = store.messages(chat_id)
    items: list[EvalItem] = []
    for asked, answered in zip(messages, messages[1:], strict=False):
        if asked.role == "user" and answered.role == "assistant" \
                and answered.status == "complete" and answered.content.strip():
            items.append(EvalItem(f"chat{chat_id}-{len(items) + 1}", asked.content,
                                  (answered.content,)))
    if not items:
        raise EvalSetError(f"Chat {chat_id} has no question with a complete answer to make an "
                           "eval item from.")
    return items


def items_from_comparison(store: ChatStore, comparison_id: int) -> list[EvalItem]:
    """The comparison's prompt, with each complete column's output as a reference."""
    comparison = store.comparisons.get(comparison_id)
    references = tuple(r.output for r in comparison.results
                       if r.status == "complete" and r.output.strip())
    if not references:
        raise EvalSetError(f"Comparison {comparison_id} has no complete output to use as a "
                           "reference.")
    return [EvalItem(f"comparison{comparison_id}", comparison.prompt, references)]


def write_set(items: Sequence[EvalItem], path: Path) -> Path:
    """`items` as a JSONL set at `path`, written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_text_atomic(path, "".join(json.dumps(item.to_json(), ensure_ascii=False) + "\n"
                                        for item in items))
    except OSError as exc:
        raise EvalSetError(f"Cannot write the set {path}: {exc.strerror or exc}") from exc
    return path
