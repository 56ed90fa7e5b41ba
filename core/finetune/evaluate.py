"""Held-out loss and perplexity, with and without the adapter.

Perplexity is exp of the mean loss over every learned token of the held-out examples (not the
mean of per-batch means, which would weigh a short example like a long one). The same PEFT
model gives both figures: `disable_adapter()` runs the base weights alone, so the comparison
is the adapter's effect and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.finetune.encode import IGNORE, EncodedExample

Progress = Callable[[int, int, str], None]


def collate(batch: Sequence[EncodedExample], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors for one batch; padding is masked out and never learned."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        labels[row, :n] = torch.tensor(example.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def summed_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """(sum of next-token losses over learned tokens, how many) for one batch; the sum keeps
    the gradient when called in training."""
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]  # token t predicts token t + 1
    predicted = logits[:, :-1, :].float()
    loss = torch.nn.functional.cross_entropy(
        predicted.reshape(-1, predicted.shape[-1]), targets.reshape(-1),
        ignore_index=IGNORE, reduction="sum")
    return loss, int((targets != IGNORE).sum())


def mean_loss(model: Any, examples: Sequence[EncodedExample], pad_id: int,
              batch_size: int = 4) -> float:
    """The mean loss per learned token over `examples` (no gradient)."""
    import torch

    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(examples), batch_size):
            loss, n = summed_loss(model, collate(examples[start:start + batch_size], pad_id))
            total += float(loss)
            count += n
    if was_training:
        model.train()
    return total / count if count else float("nan")


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf


@dataclass(frozen=True)
class EvalResult:
    held_out_examples: int
    learned_tokens: int
    loss_without: float
    loss_with: float
    perplexity_without: float
    perplexity_with: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compare_with_adapter(peft_model: Any, examples: Sequence[EncodedExample], pad_id: int,
                         batch_size: int = 4) -> EvalResult:
    """Held-out loss and perplexity of the base model alone and with the adapter."""
    with peft_model.disable_adapter():
        without = mean_loss(peft_model, examples, pad_id, batch_size)
    with_adapter = mean_loss(peft_model, examples, pad_id, batch_size)
    tokens = sum(sum(e.trained[1:]) for e in examples)
    return EvalResult(len(examples), tokens, without, with_adapter, perplexity(without),
                      perplexity(with_adapter))


def evaluate_run(run_dir: str | Path, progress: Progress | None = None) -> EvalResult:
    """Load a finished run's base model and adapter and compare them on its held-out
    examples; the result is also written into the run's manifest. Heavy (loads the base
    model): run it in a child (core.models.lab_child.run_in_child) or a worker."""
    import torch
    from peft import PeftModel

    from core.errors import TrainingError
    from core.finetune import runs
    from core.finetune.data import read_jsonl
    from core.finetune.encode import encode
    from core.finetune.settings import TrainingSettings
    from core.finetune.train_child import load_base

    run_dir = Path(run_dir)
    manifest = runs.read_manifest(run_dir)
    adapter = run_dir / runs.ADAPTER_DIR
    if not (adapter / "adapter_config.json").is_file():
        raise TrainingError(f"{run_dir.name} has no finished adapter yet (status "
                            f"{manifest.get('status')}): train or resume it first.")
    settings = TrainingSettings.from_json(manifest["settings"])
    torch.set_num_threads(settings.threads)
    tell = progress or (lambda done, total, what: None)
    tell(0, 3, "loading the base model")
    model, tokenizer, template = load_base(Path(manifest["base"]["path"]))
    tell(1, 3, "loading the adapter")
    peft_model = PeftModel.from_pretrained(model, str(adapter))
    held = encode(read_jsonl(run_dir / "data" / "held_out.jsonl"), tokenizer, template,
                  settings.max_length, settings.drop_overlong)
    tell(2, 3, "measuring held-out perplexity")
    result = compare_with_adapter(peft_model, held.examples, pad_id(tokenizer),
                                  settings.batch_size)
    runs.update_manifest(run_dir, evaluation=result.to_json())
    tell(3, 3, "done")
    return result


def pad_id(tokenizer: Any) -> int:
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0
