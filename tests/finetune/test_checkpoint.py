"""Checkpoints on a tiny real PEFT model: a full disk keeps the previous one, a restore
brings back the adapter weights and the optimizer's moments exactly."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import LoraConfig, get_peft_model

from core.errors import TrainingError
from core.finetune import checkpoint
from core.finetune.checkpoint import latest_checkpoint, restore_checkpoint, save_checkpoint

torch.set_num_threads(1)


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)  # type: ignore[no-any-return]


def _model_and_optimizer(seed: int) -> tuple[Any, torch.optim.Optimizer]:
    """The same base weights every time (as from one GGUF), LoRA initialised by `seed`."""
    torch.manual_seed(0)
    base = _Tiny()
    torch.manual_seed(seed)
    model = get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["proj"],
                                            init_lora_weights="gaussian"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    return model, optimizer


def _train_step(model: Any, optimizer: torch.optim.Optimizer) -> None:
    loss = model(torch.ones(2, 8)).pow(2).sum()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()


def _lora_weights(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def test_restore_brings_back_weights_and_optimizer_state(tmp_path: Path) -> None:
    model, optimizer = _model_and_optimizer(0)
    for _ in range(3):
        _train_step(model, optimizer)
    save_checkpoint(tmp_path, 3, model, optimizer, {"history": [{"step": 3}]})
    _train_step(model, optimizer)
    expected = _lora_weights(model)

    fresh, fresh_optimizer = _model_and_optimizer(1)
    assert any(not torch.equal(w, expected[n]) for n, w in _lora_weights(fresh).items())
    found = latest_checkpoint(tmp_path)
    assert found is not None and found.step == 3 and found.state["history"] == [{"step": 3}]
    restore_checkpoint(found, fresh, fresh_optimizer)
    _train_step(fresh, fresh_optimizer)  # the same fourth step, from the restored state
    for name, weight in _lora_weights(fresh).items():
        torch.testing.assert_close(weight, expected[name])


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    model, optimizer = _model_and_optimizer(0)
    _train_step(model, optimizer)
    first = save_checkpoint(tmp_path, 1, model, optimizer, {})
    before = {p.name: p.read_bytes() for p in first.path.rglob("*") if p.is_file()}

    def full_disk(path: Path, state: dict[str, Any]) -> None:
        path.write_text('{"step": 2, "trunc', encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "write_state", full_disk)
    _train_step(model, optimizer)
    with pytest.raises(TrainingError, match="disk is full") as caught:
        save_checkpoint(tmp_path, 2, model, optimizer, {})
    assert "step 1 is intact" in str(caught.value)
    kept = latest_checkpoint(tmp_path)
    assert kept is not None and kept.step == 1
    assert {p.name: p.read_bytes() for p in kept.path.rglob("*") if p.is_file()} == before
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-000001"]


def test_a_new_checkpoint_replaces_the_old_one(tmp_path: Path) -> None:
    model, optimizer = _model_and_optimizer(0)
    for step in (1, 2):
        _train_step(model, optimizer)
        save_checkpoint(tmp_path, step, model, optimizer, {})
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-000002"]
