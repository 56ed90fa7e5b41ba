"""Context budgeting: drop the oldest turns so the prompt and the reply fit the context window."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.engine.types import ChatMessage
from core.errors import PromptError


def reply_reserve(max_tokens: int, n_ctx: int) -> int:
    """Tokens kept free for the reply. Capped at half the window so long settings still chat."""
    return max(1, min(max_tokens, n_ctx // 2))


def fit_messages(
    messages: Sequence[ChatMessage],
    count_tokens: Callable[[Sequence[ChatMessage]], int],
    n_ctx: int,
    reserve: int,
) -> tuple[list[ChatMessage], int]:
    """The newest messages that fit in `n_ctx - reserve` tokens, and how many were dropped.

    System messages are always kept, as is the final message (the one being answered).
    `count_tokens` measures a whole rendered conversation, so template overhead is counted.
    """
    if not messages:
        raise PromptError("There is nothing to send.")
    budget = n_ctx - reserve
    system = [m for m in messages if m.role == "system"]
    turns = [m for m in messages if m.role != "system"]
    dropped = 0
    while True:
        kept = system + turns
        used = count_tokens(kept)
        if used <= budget:
            return kept, dropped
        if len(turns) <= 1:
            raise PromptError(
                f"The message is too long for the model's context window: the prompt needs "
                f"{used:,} tokens, but only {budget:,} of the {n_ctx:,} are free after keeping "
                f"{reserve:,} for the reply. Shorten the message or the system prompt, or "
                f"load the model with a larger context."
            )
        turns = turns[1:]
        dropped += 1
