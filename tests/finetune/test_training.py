"""Real LoRA training of the bundled model in its child process: a kill mid-run resumes from
the checkpoint (not from step 0), cancel keeps a checkpoint and resumes too, the finished
adapter is whole, and the manifest tells the story. Steps are few and examples tiny (a whole
run here is a minute or two on two busy cores, most of it loading)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import pirate_examples

from core.finetune.checkpoint import latest_checkpoint
from core.finetune.data import Dataset
from core.finetune.events import Checkpointed, Event, Finished, Progress, Started
from core.finetune.job import TrainingJob
from core.finetune.settings import TrainingSettings

# 10 examples: 1 held out, 9 to train in batches of 2 -> 5 steps; a checkpoint every 2.
SETTINGS = TrainingSettings(max_length=48, batch_size=2, learning_rate=2e-3,
                            checkpoint_every=2, eval_every=4, threads=1)


def _until(job: TrainingJob, stop: type, after_step: int = 0) -> list[Event]:
    """Read events until one of type `stop` at or after `after_step` (or the end)."""
    seen: list[Event] = []
    for event in job.events(timeout_s=400):
        seen.append(event)
        if isinstance(event, stop) and getattr(event, "step", 0) >= after_step:
            break
    return seen


def test_kill_resume_cancel_resume_then_finish(tmp_path: Path, model_path: Path) -> None:
    run = tmp_path / "pirate"
    job = TrainingJob(SETTINGS, Dataset(pirate_examples(10), "pirates"), model_path, run)
    manifest = job.manifest
    assert manifest["status"] == "created" and manifest["split"]["held_out"] == 1
    assert json.loads((run / "data" / "held_out.jsonl").read_text())["response"]

    # 1. Killed (as by a crash) after the checkpoint at step 2.
    job.start()
    seen = _until(job, Checkpointed, after_step=2)
    assert isinstance(seen[-1], Checkpointed)
    job.kill()
    assert not job.running
    checkpoint = latest_checkpoint(run)
    assert checkpoint is not None and checkpoint.step >= 2
    started = next(e for e in seen if isinstance(e, Started))
    assert (started.start_step, started.total_steps) == (0, 5)
    assert job.manifest["status"] == "running"  # what a restart finds: resumable

    # 2. Resumed: continues after the checkpoint, not from step 0; then cancelled.
    job = TrainingJob.open(run)
    job.resume()
    seen = _until(job, Progress)
    started = next(e for e in seen if isinstance(e, Started))
    assert started.start_step == checkpoint.step
    assert seen[-1].step == checkpoint.step + 1  # type: ignore[attr-defined]
    job.cancel()
    rest = list(job.events(timeout_s=400))
    finished = rest[-1]
    assert isinstance(finished, Finished) and finished.status == "cancelled"
    assert finished.adapter_path is None and not (run / "adapter").exists()
    kept = latest_checkpoint(run)
    assert kept is not None and kept.step == finished.step > checkpoint.step
    assert job.manifest["status"] == "cancelled"

    # 3. Resumed again: runs to the end and saves the adapter whole.
    events: list[Event] = []
    done = TrainingJob.open(run).run(on_event=events.append, resume=True, timeout_s=400)
    assert done.ok, done.error
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert steps == list(range(kept.step + 1, 6))
    assert done.held_out_loss is not None and done.held_out_loss > 0
    adapter = run / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 8 and set(config["target_modules"]) == set(SETTINGS.target_modules)
    assert (adapter / "adapter_model.safetensors").stat().st_size > 0
    assert not list(run.glob(".*partial"))
    manifest = TrainingJob.open(run).manifest
    assert manifest["status"] == "completed" and manifest["step"] == 5
    losses = [h["train_loss"] for h in manifest["history"] if "train_loss" in h]
    assert len(losses) == 5  # one per step, across the kill and the cancel
    assert manifest["base"]["sha256"] and manifest["base"]["architecture"] == "llama"
