"""The training child: loads the base model, trains the LoRA adapter, checkpoints, saves.

It runs in a spawned process (torch's threads and gigabytes of f32 weights stay out of the
app, and a crash or a kill cannot take the window with it). Everything it needs is in the run
folder (manifest, data files), so a resume after a crash needs nothing else; everything it
reports goes up the pipe as plain events (core.finetune.events), and it is the manifest's only
writer while it runs.

Order of examples is a pure function of (seed, epoch), so a resumed run skips exactly the steps
its checkpoint had done and sees the same batches an uninterrupted run would have.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.engine.chat_template import ChatTemplate
from core.errors import GlassboxError, TrainingError
from core.finetune import runs
from core.finetune.checkpoint import latest_checkpoint, restore_checkpoint, save_checkpoint
from core.finetune.data import read_jsonl
from core.finetune.encode import EncodedExample, encode, load_tokenizer, template_for
from core.finetune.evaluate import collate, mean_loss, pad_id, summed_loss
from core.finetune.events import (
    Checkpointed,
    Evaluated,
    Event,
    Finished,
    Progress,
    Stage,
    Started,
)
from core.finetune.settings import BaseModelFacts, TrainingSettings, estimate

log = logging.getLogger(__name__)
Send = Callable[[Event], None]


class _CancelToken:
    def is_set(self) -> bool:
        return False


def load_base(base_gguf: Path) -> tuple[Any, Any, ChatTemplate]:
    """(f32 model, tokenizer, chat template) from the GGUF, as transformers reads it."""
    from core.finetune.base_cache import load_model

    tokenizer = load_tokenizer(base_gguf)
    model = load_model(base_gguf, tokenizer)
    return model, tokenizer, template_for(base_gguf, tokenizer)


def epoch_batches(examples: Sequence[EncodedExample], batch_size: int, seed: int,
                  epoch: int) -> list[list[EncodedExample]]:
    """The batches of one epoch, in an order fixed by (seed, epoch)."""
    order = list(range(len(examples)))
    random.Random(seed * 1000 + epoch).shuffle(order)
    return [[examples[i] for i in order[start:start + batch_size]]
            for start in range(0, len(order), batch_size)]


def _lora(model: Any, settings: TrainingSettings) -> Any:
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in settings.target_modules if m not in names]
    if missing:
        linear = sorted(n for n in names if n.endswith("proj") or n in ("c_attn", "c_proj",
                                                                          "query_key_value"))
        raise TrainingError(f"This model has no {', '.join(missing)} layers to adapt; it has "
                            f"{', '.join(linear) or 'other layer names'}.")
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                        lora_dropout=settings.dropout,
                        target_modules=list(settings.target_modules), task_type="CAUSAL_LM")
    return get_peft_model(model, config)


class _Trainer:
    def __init__(self, run_dir: Path, send: Send, cancel: Any) -> None:
        self.run_dir = run_dir
        self.send = send
        self.cancel = cancel
        manifest = runs.read_manifest(run_dir)
        self.settings = TrainingSettings.from_json(manifest["settings"])
        self.base = Path(manifest["base"]["path"])
        self.history: list[dict[str, Any]] = []
        self.step = 0
        self.total_steps = 0

    def run(self, resume: bool) -> Finished:
        import torch

        settings = self.settings
        torch.set_num_threads(settings.threads)
        torch.manual_seed(settings.seed)
        started = time.perf_counter()
        self.send(Stage("loading the base model"))
        model, tokenizer, template = load_base(self.base)
        self.send(Stage("encoding the examples"))
        data = self.run_dir / "data"
        train = encode(read_jsonl(data / "train.jsonl"), tokenizer, template,
                       settings.max_length, settings.drop_overlong)
        held = encode(read_jsonl(data / "held_out.jsonl"), tokenizer, template,
                      settings.max_length, settings.drop_overlong)
        if not train.examples:
            raise TrainingError("No training example fits the maximum length: raise it, or "
                                "keep long examples (cut instead of dropped).")
        model = _lora(model, settings)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                      lr=settings.learning_rate)
        per_epoch = -(-len(train.examples) // settings.batch_size)
        self.total_steps = per_epoch * settings.epochs
        checkpoint = latest_checkpoint(self.run_dir) if resume else None
        if checkpoint is not None:
            restore_checkpoint(checkpoint, model, optimizer)
            self.step = checkpoint.step
            self.history = [h for h in checkpoint.state.get("history", [])
                            if h["step"] <= checkpoint.step]
        manifest = runs.read_manifest(self.run_dir)
        facts = BaseModelFacts(str(self.base), manifest["base"]["architecture"],
                               int(manifest["base"]["parameters"]), 0,
                               manifest["base"].get("hyperparameters", {}))
        cost = estimate(settings, facts, train.tokens, len(train.examples))
        runs.update_manifest(self.run_dir, status="running", total_steps=self.total_steps,
                             encoded={"train": train.summary(), "held_out": held.summary()},
                             estimate=cost.describe(), error=None)
        self.send(Started(self.total_steps, self.step, len(train.examples),
                          len(held.examples), train.summary(),
                          round(time.perf_counter() - started, 2), cost.describe()))
        pad = pad_id(tokenizer)
        model.train()
        tokens_done, training_s = 0, 0.0
        last_loss = math.nan
        step_in_run = 0
        for epoch in range(settings.epochs):
            for index, batch in enumerate(epoch_batches(train.examples, settings.batch_size,
                                                        settings.seed, epoch)):
                if epoch * per_epoch + index < self.step:
                    continue  # done before the checkpoint this run resumed from
                if self.cancel.is_set():
                    self._checkpoint(model, optimizer)
                    return self._finish("cancelled", model=None)
                tick = time.perf_counter()
                tensors = collate(batch, pad)
                loss_sum, count = summed_loss(model, tensors)
                loss = loss_sum / max(count, 1)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                training_s += time.perf_counter() - tick
                tokens_done += int(tensors["attention_mask"].sum())
                step_in_run += 1
                self.step += 1
                last_loss = float(loss.detach())
                self.history.append({"step": self.step, "train_loss": round(last_loss, 5)})
                speed = tokens_done / training_s if training_s else 0.0
                left = (self.total_steps - self.step) * training_s / step_in_run
                self.send(Progress(self.step, self.total_steps, epoch + 1, last_loss, speed,
                                   left))
                if self.step % settings.eval_every == 0 and self.step < self.total_steps:
                    self._evaluate(model, held.examples, pad)
                if self.step % settings.checkpoint_every == 0 and \
                        self.step < self.total_steps:
                    self._checkpoint(model, optimizer)
        held_loss = self._evaluate(model, held.examples, pad)
        # The checkpoint first: if the disk fills, its clear message comes out, and a resume
        # from it is all that saving the adapter needs ("already done" otherwise).
        self._checkpoint(model, optimizer)
        try:
            runs.write_folder_atomic(self.run_dir / runs.ADAPTER_DIR,
                                     lambda tmp: model.save_pretrained(str(tmp)))
        except OSError as exc:
            raise TrainingError(f"The adapter could not be saved ({exc.strerror or exc}); "
                                f"training is complete in the checkpoint at step {self.step}: "
                                "free some space and resume to save it.") from exc
        return self._finish("completed", model=model, held_out_loss=held_loss,
                            tokens_per_s=tokens_done / training_s if training_s else 0.0)

    def _evaluate(self, model: Any, examples: Sequence[EncodedExample], pad: int) -> float:
        loss = mean_loss(model, examples, pad, self.settings.batch_size)
        self.history.append({"step": self.step, "held_out_loss": round(loss, 5)})
        self.send(Evaluated(self.step, loss))
        return loss

    def _checkpoint(self, model: Any, optimizer: Any) -> None:
        if self.step == 0:
            return
        saved = save_checkpoint(self.run_dir, self.step, model, optimizer,
                                {"history": self.history})
        runs.update_manifest(self.run_dir, checkpoint_step=self.step, history=self.history)
        self.send(Checkpointed(self.step, str(saved.path)))

    def _finish(self, status: str, model: Any, held_out_loss: float | None = None,
                tokens_per_s: float = 0.0) -> Finished:
        adapter = str(self.run_dir / runs.ADAPTER_DIR) if model is not None else None
        runs.update_manifest(self.run_dir, status=status, step=self.step, history=self.history,
                             adapter=adapter, held_out_loss=held_out_loss,
                             tokens_per_s=round(tokens_per_s, 1), peak_rss_mb=_peak_rss_mb())
        return Finished(status, self.step, self.total_steps, adapter, None, held_out_loss)


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def run_child(conn: Any, cancel: Any, run_dir: str, resume: bool) -> None:
    """The spawned process's entry point: train, sending every event up `conn`; the last
    event is always a Finished (a failure is one too, with the reason)."""
    logging.basicConfig(level=logging.WARNING)
    trainer: _Trainer | None = None

    def send(event: Event) -> None:
        conn.send(event)

    try:
        trainer = _Trainer(Path(run_dir), send, cancel or _CancelToken())
        finished = trainer.run(resume)
    except GlassboxError as exc:
        finished = _failed(trainer, run_dir, str(exc))
    except MemoryError:
        finished = _failed(trainer, run_dir, "Training ran out of memory: lower the batch size "
                           "or the maximum length, or pick a smaller base model.")
    except Exception as exc:  # noqa: BLE001 - a bug or a library error must reach the window
        log.exception("training failed")
        finished = _failed(trainer, run_dir, f"Training failed ({type(exc).__name__}: {exc}).")
    conn.send(finished)
    conn.close()


def _failed(trainer: _Trainer | None, run_dir: str, message: str) -> Finished:
    step = trainer.step if trainer else 0
    total = trainer.total_steps if trainer else 0
    try:
        runs.update_manifest(Path(run_dir), status="failed", error=message)
    except (GlassboxError, OSError):
        pass  # the disk may be what failed; the event still carries the message
    return Finished("failed", step, total, None, message)
