"""What a run will do, before it starts: the split, the encoded examples and the cost.

The window shows this beside the Start button (tokens, examples cut or dropped, memory and
time); nothing here trains or loads the model's weights, only its tokenizer (seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.finetune.data import Dataset, Split, split
from core.finetune.encode import EncodedSet, encode, load_tokenizer, template_for
from core.finetune.settings import Estimate, TrainingSettings, check_base_model, estimate


@dataclass(frozen=True)
class Plan:
    split: Split
    train: EncodedSet
    held_out: EncodedSet
    estimate: Estimate


def plan(settings: TrainingSettings, dataset: Dataset, base_gguf: str | Path,
         tokenizer: Any = None) -> Plan:
    """The run `TrainingJob(settings, dataset, base_gguf, ...)` would make. Raises what it
    would raise (UnsupportedBaseModel, TrainingDataError, TrainingError); pass `tokenizer`
    (from `load_tokenizer`) to reuse one across calls."""
    settings.validate()
    base = check_base_model(base_gguf)
    chosen = split(dataset, settings.held_out_fraction, settings.seed)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(base_gguf)
    template = template_for(base_gguf, tokenizer)
    train = encode(chosen.train, tokenizer, template, settings.max_length,
                   settings.drop_overlong)
    held = encode(chosen.held_out, tokenizer, template, settings.max_length,
                  settings.drop_overlong)
    cost = estimate(settings, base, train.tokens, len(train.examples))
    return Plan(chosen, train, held, cost)
