"""Checkpoints a stopped or crashed run resumes from: adapter weights, optimizer state, step.

Only the latest checkpoint is kept (an adapter of a small model is a few MB, but a long run
would otherwise fill the disk). A new one is complete on disk before the old one is removed,
so there is always one whole checkpoint to go back to, even when the disk fills mid-write.
"""

from __future__ import annotations

import errno
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import TrainingError
from core.finetune.runs import write_folder_atomic

CHECKPOINTS = "checkpoints"
_STEP_DIR = re.compile(r"^step-(\d+)$")
_STATE = "state.json"
_OPTIMIZER = "optimizer.pt"
_ADAPTER = "adapter"


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path
    state: dict[str, Any]  # epoch, loss history and anything else the trainer keeps

    @property
    def adapter_path(self) -> Path:
        return self.path / _ADAPTER

    @property
    def optimizer_path(self) -> Path:
        return self.path / _OPTIMIZER


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The newest complete checkpoint of the run, or None (half-written ones never have the
    final name, so any folder found here is whole)."""
    folder = Path(run_dir) / CHECKPOINTS
    found: list[tuple[int, Path]] = []
    if folder.is_dir():
        for child in folder.iterdir():
            match = _STEP_DIR.match(child.name)
            if match and (child / _STATE).is_file():
                found.append((int(match.group(1)), child))
    if not found:
        return None
    step, path = max(found)
    state = json.loads((path / _STATE).read_text(encoding="utf-8"))
    return Checkpoint(step, path, state)


def write_state(path: Path, state: dict[str, Any]) -> None:
    """The checkpoint's step and history, written last: its presence marks a whole one."""
    path.write_text(json.dumps(state), encoding="utf-8")


def save_checkpoint(run_dir: Path, step: int, model: Any, optimizer: Any,
                    state: dict[str, Any]) -> Checkpoint:
    """Write checkpoint `step` (a PEFT model's adapter, the optimizer's state, `state`) and
    remove the older ones. Raises TrainingError on a full or failing disk, leaving the
    previous checkpoint as it was."""
    import torch

    previous = latest_checkpoint(run_dir)
    folder = Path(run_dir) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    full_state = {**state, "step": step}

    def fill(tmp: Path) -> None:
        model.save_pretrained(str(tmp / _ADAPTER))
        torch.save(optimizer.state_dict(), str(tmp / _OPTIMIZER))
        write_state(tmp / _STATE, full_state)

    try:
        target = write_folder_atomic(folder / f"step-{step:06d}", fill)
    except OSError as exc:
        kept = f"the checkpoint at step {previous.step} is intact" if previous else \
            "no earlier checkpoint exists"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TrainingError(f"The disk is full: the checkpoint at step {step} could not be "
                                f"saved ({kept}). Free some space, then resume.") from exc
        raise TrainingError(f"The checkpoint at step {step} could not be saved ({exc}; "
                            f"{kept}).") from exc
    for child in folder.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and int(match.group(1)) != step:
            shutil.rmtree(child, ignore_errors=True)
    return Checkpoint(step, target, full_state)


def restore_checkpoint(checkpoint: Checkpoint, model: Any, optimizer: Any) -> None:
    """Put the checkpoint's adapter weights into the PEFT `model` and its moments into
    `optimizer`, so training continues as if it had never stopped."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    weights = checkpoint.adapter_path / "adapter_model.safetensors"
    set_peft_model_state_dict(model, load_file(str(weights)))
    optimizer.load_state_dict(torch.load(str(checkpoint.optimizer_path), weights_only=True))
