"""Examples as the model will see them: token ids, and which tokens training learns.

A chat example goes through the model's own chat template (the GGUF's, rendered in our
sandbox) twice: the conversation with the assistant's turn opened, and the whole exchange.
What the second adds to the first is the reply plus the template's end-of-turn: only those
tokens carry labels; the prompt's labels are -100, which the loss ignores, so the model learns
to answer, not to write the user's questions. Plain text (continued pretraining) is learned
whole. The two parts are tokenized separately, so no token straddles the boundary.

The tokenizer is transformers' own reading of the GGUF (`gguf_file=`), the one the training
child uses; it takes several seconds to build, so callers keep it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.engine.chat_template import ChatTemplate
from core.engine.types import ChatMessage
from core.finetune.data import Example

IGNORE = -100  # the label PyTorch's cross-entropy skips


@dataclass(frozen=True)
class EncodedExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # the token id where it is learned, IGNORE where it is not
    truncated: bool = False

    @property
    def trained(self) -> tuple[bool, ...]:
        return tuple(label != IGNORE for label in self.labels)


@dataclass(frozen=True)
class EncodedSet:
    """Encoded examples and what happened to the ones that did not fit."""

    examples: tuple[EncodedExample, ...]
    truncated: int  # cut to the maximum length
    dropped: int  # left out (too long with dropping chosen, or a prompt that fills it all)
    tokens: int  # input tokens over all kept examples
    trained_tokens: int  # of which carry a label

    def summary(self) -> dict[str, int]:
        return {"examples": len(self.examples), "truncated": self.truncated,
                "dropped": self.dropped, "tokens": self.tokens,
                "trained_tokens": self.trained_tokens}


@dataclass(frozen=True)
class Preview:
    """One example token by token, for drawing: `pieces[i]` is the text of token i and
    `trained[i]` whether training learns it."""

    pieces: tuple[str, ...]
    trained: tuple[bool, ...]
    token_count: int
    truncated: bool
    dropped: bool


def load_tokenizer(base_gguf: str | Path) -> Any:
    """transformers' tokenizer for the GGUF (several seconds the first time; see
    core.finetune.base_cache)."""
    from core.finetune.base_cache import load_tokenizer as load

    return load(base_gguf)


def template_for(base_gguf: str | Path, tokenizer: Any) -> ChatTemplate:
    """The GGUF's chat template, as the engine renders it (ChatML when it has none)."""
    from core.gguf.reader import read_header

    source = read_header(base_gguf).metadata.get("tokenizer.chat_template")
    return ChatTemplate(source if isinstance(source, str) else None,
                        bos_token=tokenizer.bos_token or "", eos_token=tokenizer.eos_token or "")


def _split_render(example: Example, template: ChatTemplate) -> tuple[str, str]:
    """(prompt text, learned text) for a chat example."""
    prompt = template.render(example.messages, add_generation_prompt=True)
    full = template.render([*example.messages, ChatMessage("assistant", example.response)],
                           add_generation_prompt=False)
    if not full.startswith(prompt):
        # A template that renders the opened turn differently from a finished one (some
        # strip reasoning): learn from where the two first differ.
        cut = next((i for i, (a, b) in enumerate(zip(prompt, full, strict=False)) if a != b),
                   min(len(prompt), len(full)))
        return full[:cut], full[cut:]
    return prompt, full[len(prompt):]


def _ids(tokenizer: Any, text: str) -> list[int]:
    # add_special_tokens=False: the template already wrote every special token it wants.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_example(example: Example, tokenizer: Any, template: ChatTemplate,
                   max_length: int, drop_overlong: bool = False) -> EncodedExample | None:
    """One example's ids and labels, cut to `max_length`; None when it must be dropped."""
    if example.is_text:
        ids = _ids(tokenizer, example.text)
        labels = list(ids)
    else:
        prompt, learned = _split_render(example, template)
        prompt_ids, learned_ids = _ids(tokenizer, prompt), _ids(tokenizer, learned)
        if len(prompt_ids) >= max_length:
            return None  # nothing of the reply would be left to learn
        ids = prompt_ids + learned_ids
        labels = [IGNORE] * len(prompt_ids) + learned_ids
    if not ids:
        return None
    truncated = len(ids) > max_length
    if truncated and drop_overlong:
        return None
    return EncodedExample(tuple(ids[:max_length]), tuple(labels[:max_length]), truncated)


def encode(examples: Sequence[Example], tokenizer: Any, template: ChatTemplate,
           max_length: int, drop_overlong: bool = False) -> EncodedSet:
    """Every example encoded, with counts of those cut and dropped."""
    kept: list[EncodedExample] = []
    dropped = 0
    for example in examples:
        encoded = encode_example(example, tokenizer, template, max_length, drop_overlong)
        if encoded is None:
            dropped += 1
        else:
            kept.append(encoded)
    return EncodedSet(tuple(kept), sum(e.truncated for e in kept), dropped,
                      sum(len(e.input_ids) for e in kept),
                      sum(sum(e.trained) for e in kept))


def preview(example: Example, tokenizer: Any, template: ChatTemplate, max_length: int,
            drop_overlong: bool = False) -> Preview:
    """What training sees of `example`, token by token (the whole example when it is
    dropped, so the window can show why)."""
    encoded = encode_example(example, tokenizer, template, max_length, drop_overlong)
    dropped = encoded is None
    if encoded is None:
        encoded = encode_example(example, tokenizer, template, 10**9)
    if encoded is None:
        return Preview((), (), 0, False, True)
    pieces = tuple(tokenizer.decode([i]) for i in encoded.input_ids)
    return Preview(pieces, encoded.trained, len(pieces), encoded.truncated, dropped)
