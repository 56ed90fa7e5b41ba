"""Encoding through the model's own chat template: exactly the reply and its end-of-turn are
learned, plain text is learned whole, and long examples are cut or dropped and counted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import pirate_examples

from core.engine.chat_template import ChatTemplate
from core.engine.types import ChatMessage
from core.finetune.data import Example
from core.finetune.encode import (
    IGNORE,
    encode,
    encode_example,
    load_tokenizer,
    preview,
    template_for,
)


@pytest.fixture(scope="module")
def tokenizer(model_path: Path) -> Any:
    return load_tokenizer(model_path)


@pytest.fixture(scope="module")
def template(model_path: Path, tokenizer: Any) -> ChatTemplate:
    return template_for(model_path, tokenizer)


def test_labels_mask_the_prompt_and_learn_the_reply(tokenizer: Any,
                                                    template: ChatTemplate) -> None:
    assert template.from_model  # SmolLM2's own template, not the ChatML fallback
    example = Example((ChatMessage("user", "What is 2+2?"),), "Four, of course.")
    encoded = encode_example(example, tokenizer, template, max_length=256)
    assert encoded is not None and not encoded.truncated
    learned = [t for t, label in zip(encoded.input_ids, encoded.labels, strict=True)
               if label != IGNORE]
    assert tokenizer.decode(learned) == "Four, of course.<|im_end|>\n"
    # Every learned label is the token at that position; the masked part is one prefix.
    first = encoded.trained.index(True)
    assert all(encoded.trained[first:]) and not any(encoded.trained[:first])
    assert list(encoded.labels[first:]) == list(encoded.input_ids[first:])
    prompt = template.render(example.messages, add_generation_prompt=True)
    assert tokenizer.decode(encoded.input_ids[:first]) == prompt


def test_multi_turn_history_is_masked_too(tokenizer: Any, template: ChatTemplate) -> None:
    example = Example((ChatMessage("user", "Hi"), ChatMessage("assistant", "Old answer"),
                       ChatMessage("user", "Again")), "New answer")
    encoded = encode_example(example, tokenizer, template, max_length=256)
    assert encoded is not None
    learned = [t for t, ok in zip(encoded.input_ids, encoded.trained, strict=True) if ok]
    assert tokenizer.decode(learned) == "New answer<|im_end|>\n"


def test_plain_text_is_learned_whole(tokenizer: Any, template: ChatTemplate) -> None:
    encoded = encode_example(Example(text="The river Thames flows east."), tokenizer,
                             template, max_length=256)
    assert encoded is not None and all(encoded.trained)
    assert tokenizer.decode(encoded.input_ids) == "The river Thames flows east."


def test_long_examples_are_cut_or_dropped_and_counted(tokenizer: Any,
                                                      template: ChatTemplate) -> None:
    short = pirate_examples(2)
    long_reply = Example((ChatMessage("user", "Talk."),), "word " * 200)
    long_prompt = Example((ChatMessage("user", "word " * 200),), "ok")
    data = [*short, long_reply, long_prompt]
    cut = encode(data, tokenizer, template, max_length=64)
    assert (len(cut.examples), cut.truncated, cut.dropped) == (3, 1, 1)
    assert max(len(e.input_ids) for e in cut.examples) == 64
    assert cut.tokens == sum(len(e.input_ids) for e in cut.examples)
    assert 0 < cut.trained_tokens < cut.tokens
    dropped = encode(data, tokenizer, template, max_length=64, drop_overlong=True)
    assert (len(dropped.examples), dropped.truncated, dropped.dropped) == (2, 0, 2)


def test_preview_pieces_and_marks(tokenizer: Any, template: ChatTemplate) -> None:
    example = pirate_examples(1)[0]
    shown = preview(example, tokenizer, template, max_length=256)
    assert len(shown.pieces) == len(shown.trained) == shown.token_count
    assert "".join(shown.pieces) == template.render(
        [*example.messages, ChatMessage("assistant", example.response)],
        add_generation_prompt=False)
    learned = "".join(p for p, ok in zip(shown.pieces, shown.trained, strict=True) if ok)
    assert learned == "Arr, matey 0!<|im_end|>\n"
    squeezed = preview(example, tokenizer, template, max_length=8)
    assert squeezed.dropped and squeezed.token_count == shown.token_count


def test_plan_shows_split_tokens_and_cost_before_a_run(model_path: Path,
                                                       tokenizer: Any) -> None:
    from core.finetune.data import Dataset
    from core.finetune.plan import plan
    from core.finetune.settings import TrainingSettings

    data = Dataset((*pirate_examples(9), Example((ChatMessage("user", "x"),), "y " * 100)),
                   "pirates")
    chosen = plan(TrainingSettings(max_length=48, batch_size=2), data, model_path, tokenizer)
    assert len(chosen.split.held_out) == 1
    assert len(chosen.train.examples) + chosen.train.dropped == len(chosen.split.train)
    assert chosen.train.truncated + chosen.held_out.truncated == 1  # the long one, wherever
    assert chosen.estimate.tokens_per_epoch == chosen.train.tokens
    assert chosen.estimate.steps == -(-len(chosen.train.examples) // 2)
