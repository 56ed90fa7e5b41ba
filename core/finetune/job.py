"""The parent side of a training run: create it, start it in a child, read its events, stop it.

`TrainingJob(settings, dataset, base_gguf, run_dir)` checks everything that can be checked
without loading the model (settings in range, a base model transformers can load, enough
examples) and writes the run folder: the split and the manifest. `start()` spawns the child;
`events()` yields its plain events until the last one, a `Finished`; `cancel()` asks the child
to save a checkpoint and stop; `resume()` starts again from the latest checkpoint, whether the
run was cancelled, failed (a full disk) or killed with the app.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.background import generation_active, lower_process
from core.errors import TrainingError
from core.finetune import runs
from core.finetune.data import Dataset, split, write_jsonl
from core.finetune.events import Event, Finished
from core.finetune.settings import TrainingSettings, check_base_model

_POLL_S = 0.2
_CANCEL_GRACE_S = 60.0  # a cancel waits for the step in hand and the checkpoint, then kills


def _hyperparameters(metadata: dict[str, Any], arch: str) -> dict[str, Any]:
    # The numbers the estimate needs, kept in the manifest so the child need not re-read them.
    return {k: v for k, v in metadata.items()
            if k.startswith(f"{arch}.") and isinstance(v, int | float)}


class TrainingJob:
    """One LoRA fine-tuning run in `run_dir` (see core.finetune.runs for its layout)."""

    def __init__(self, settings: TrainingSettings, dataset: Dataset, base_gguf: str | Path,
                 run_dir: str | Path) -> None:
        settings.validate()
        base = check_base_model(base_gguf)  # UnsupportedBaseModel before anything is written
        chosen = split(dataset, settings.held_out_fraction, settings.seed)
        self.run_dir = Path(run_dir)
        if (self.run_dir / runs.MANIFEST).exists():
            raise TrainingError(f"A run named {self.run_dir.name} exists already: resume it, "
                                "or pick another name.")
        data = self.run_dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        write_jsonl(chosen.train, data / "train.jsonl")
        write_jsonl(chosen.held_out, data / "held_out.jsonl")
        path = Path(base_gguf).resolve()
        now = time.time()
        runs.write_json_atomic(self.run_dir / runs.MANIFEST, {
            "name": self.run_dir.name, "status": "created", "created_at": now,
            "updated_at": now, "settings": settings.to_json(),
            "base": {"path": str(path), "size": base.file_size,
                     "sha256": runs.file_sha256(path), "architecture": base.architecture,
                     "parameters": base.parameter_count,
                     "hyperparameters": _hyperparameters(base.metadata, base.architecture)},
            "dataset": dataset.summary(), "split": chosen.summary(), "history": [],
            "checkpoint_step": 0, "step": 0, "total_steps": None, "error": None})
        self.settings = settings
        self._init_process_state()

    @classmethod
    def open(cls, run_dir: str | Path) -> TrainingJob:
        """An existing run (to resume or to read), from its manifest alone."""
        job = cls.__new__(cls)
        job.run_dir = Path(run_dir)
        job.settings = TrainingSettings.from_json(runs.read_manifest(job.run_dir)["settings"])
        job._init_process_state()
        return job

    def _init_process_state(self) -> None:
        self._context = multiprocessing.get_context("spawn")  # fork would copy the app's threads
        self._process: Any = None
        self._conn: Any = None
        self._cancel: Any = None
        self._cancel_at: float | None = None
        self._lowered = False

    @property
    def manifest(self) -> dict[str, Any]:
        return runs.read_manifest(self.run_dir)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self, resume: bool = False) -> None:
        """Spawn the training child (from the latest checkpoint when `resume`)."""
        if self.running:
            raise TrainingError("This run is training already.")
        self._check_base_unchanged()
        self._reap()  # the pipe of an earlier, killed child
        receiver, sender = self._context.Pipe(duplex=False)
        self._cancel = self._context.Event()
        from core.finetune.train_child import run_child

        self._process = self._context.Process(
            target=run_child, args=(sender, self._cancel, str(self.run_dir), resume),
            name="glassbox-finetune", daemon=True)
        self._process.start()
        sender.close()
        self._conn = receiver
        self._cancel_at = None
        self._lowered = False

    def resume(self) -> None:
        """Continue from the latest checkpoint (from the start when there is none)."""
        self.start(resume=True)

    def cancel(self) -> None:
        """Ask the child to checkpoint and stop after the step in hand (it ends with a
        Finished 'cancelled'); a child that does not stop in time is killed."""
        if self._cancel is not None:
            self._cancel.set()
            self._cancel_at = time.monotonic()

    def kill(self) -> None:
        """Stop the child at once, as a crash would (the latest checkpoint survives)."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(10)

    def events(self, timeout_s: float | None = None) -> Iterator[Event]:
        """The child's events until its Finished. A child that dies without one (killed, out
        of memory) ends the stream with a Finished 'failed' saying so; the run stays
        resumable from its latest checkpoint. Stopping the iteration early leaves the child
        running: call `events()` again to go on reading, or `cancel()` / `kill()`."""
        if self._process is None or self._conn is None:
            raise TrainingError("The run has not been started.")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            self._yield_to_generation()
            if self._cancel_at is not None and \
                    time.monotonic() - self._cancel_at > _CANCEL_GRACE_S:
                self.kill()
            if deadline is not None and time.monotonic() > deadline:
                self.kill()
                self._reap()
                raise TrainingError(f"Training took longer than {timeout_s:g} s and was "
                                    "stopped; resume it to continue.")
            try:
                event = self._conn.recv() if self._conn.poll(_POLL_S) else None
            except (EOFError, OSError):
                died = self._died()
                self._reap()
                yield died
                return
            if event is None:
                continue
            if isinstance(event, Finished):
                self._reap()  # the child has nothing left to do: do not leave it behind
                yield event
                return
            yield event

    def run(self, on_event: Callable[[Event], None] | None = None, resume: bool = False,
            timeout_s: float | None = None) -> Finished:
        """Start (or resume) and wait for the end; each event goes to `on_event`."""
        self.start(resume=resume)
        last: Finished | None = None
        for event in self.events(timeout_s):
            if on_event is not None:
                on_event(event)
            if isinstance(event, Finished):
                last = event
        assert last is not None  # events() always ends with a Finished
        return last

    def _died(self) -> Finished:
        self._process.join(10)
        code = self._process.exitcode
        how = f"was stopped by signal {-code}" if code is not None and code < 0 else \
            f"exited with code {code}"
        manifest = self.manifest
        message = (f"The training process {how}. The run can resume from step "
                   f"{manifest.get('checkpoint_step', 0)}.")
        step = int(manifest.get("checkpoint_step") or 0)
        runs.update_manifest(self.run_dir, status="failed", error=message)
        return Finished("failed", step, int(manifest.get("total_steps") or 0), None, message)

    def _reap(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)

    def _yield_to_generation(self) -> None:
        # A reply is streaming in the app: training gives it the CPU for the rest of its life.
        if not self._lowered and self._process is not None and self._process.pid and \
                generation_active():
            self._lowered = lower_process(self._process.pid)

    def _check_base_unchanged(self) -> None:
        base = self.manifest["base"]
        path = Path(base["path"])
        if not path.is_file():
            raise TrainingError(f"The base model of this run is gone: {path}.")
        if path.stat().st_size != base["size"]:
            raise TrainingError(f"The base model {path.name} changed since this run started "
                                "(its size differs); its checkpoints do not fit it.")


def with_overrides(settings: TrainingSettings, **changes: Any) -> TrainingSettings:
    """`settings` with the given fields changed (None values ignored), validated."""
    chosen = replace(settings, **{k: v for k, v in changes.items() if v is not None})
    chosen.validate()
    return chosen
