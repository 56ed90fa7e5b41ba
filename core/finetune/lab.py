"""What the window's Fine-tune lab needs beside a run: the bundled sample data, a run's loss
curves from its manifest, the held-out examples of a finished run and the text the "What
changed" view reads with and without the adapter. Plain data, no Qt."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.finetune import runs
from core.finetune.data import Dataset, Example, load_file, read_jsonl


def sample_data_path() -> Path:
    """`resources/finetune/sample.jsonl`: 60 questions answered by a cheerful robot (every
    reply opens with "Beep boop!"), a style a few training steps visibly teach."""
    return Path(__file__).resolve().parents[2] / "resources" / "finetune" / "sample.jsonl"


def load_sample() -> Dataset:
    return load_file(sample_data_path())


@dataclass
class LossCurves:
    """A run's losses so far: training loss per step, held-out loss where it was measured."""

    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    held_steps: list[int] = field(default_factory=list)
    held_loss: list[float] = field(default_factory=list)

    def add_train(self, step: int, loss: float) -> None:
        # A resumed run repeats no step, but a curve read from the manifest and then fed the
        # live events may see the checkpoint's last step twice: keep the newer value.
        while self.train_steps and self.train_steps[-1] >= step:
            self.train_steps.pop()
            self.train_loss.pop()
        self.train_steps.append(step)
        self.train_loss.append(loss)

    def add_held_out(self, step: int, loss: float) -> None:
        while self.held_steps and self.held_steps[-1] >= step:
            self.held_steps.pop()
            self.held_loss.pop()
        self.held_steps.append(step)
        self.held_loss.append(loss)


def loss_curves(manifest: dict[str, Any]) -> LossCurves:
    """The curves of a run from its manifest's `history` (so they survive a restart)."""
    curves = LossCurves()
    for entry in manifest.get("history") or []:
        step = int(entry.get("step", 0))
        if "train_loss" in entry:
            curves.add_train(step, float(entry["train_loss"]))
        if "held_out_loss" in entry:
            curves.add_held_out(step, float(entry["held_out_loss"]))
    return curves


def held_out_examples(run_name: str) -> list[Example]:
    """The examples the run never trained on (what "What changed" reads)."""
    path = runs.run_folder(run_name) / "data" / "held_out.jsonl"
    return read_jsonl(path) if path.is_file() else []


def effect_text(example: Example) -> str:
    """The example as plain text for the before/after reading: the question, then the reply.

    Plain, not through the chat template: llama.cpp reads the text with special tokens off
    (core.engine.quant_compare), so the template's markers would become a dozen pieces of
    punctuation; the learned style still shows on the reply's tokens."""
    if example.is_text:
        return example.text
    question = next((m.content for m in reversed(example.messages) if m.role == "user"), "")
    return f"{question}\n{example.response}".strip()


def example_title(example: Example, width: int = 70) -> str:
    """One line naming an example in a list: its question (or the start of its text)."""
    if example.is_text:
        text = example.text
    else:
        text = next((m.content for m in reversed(example.messages) if m.role == "user"),
                    example.response)
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def adapter_gguf(manifest: dict[str, Any]) -> str | None:
    """The run's llama.cpp adapter, when it was exported and is still there."""
    path = manifest.get("adapter_gguf")
    return str(path) if path and Path(path).is_file() else None


def resumable(manifest: dict[str, Any]) -> bool:
    """A run that stopped before its end: cancelled, failed, or 'running' with no child (the
    app or the child died)."""
    return manifest.get("status") in ("created", "running", "cancelled", "failed")
