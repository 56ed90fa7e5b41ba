"""A run from start to a usable adapter: train (or resume), then export it for llama.cpp.

The CLI and the window both drive a run this way, so the order of the steps (the GGUF export
only after a completed run; the manifest recording where the GGUF went) lives in one place.
A failed export does not fail the run: the PEFT adapter is whole and the export can be redone;
the reason comes back in `Outcome.export_error` for the caller to show.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import GlassboxError
from core.finetune import runs
from core.finetune.events import Event, Finished

if TYPE_CHECKING:
    from core.finetune.job import TrainingJob

log = logging.getLogger(__name__)

_CANCEL_POLL_S = 0.2


@dataclass(frozen=True)
class Outcome:
    finished: Finished
    adapter_gguf: str | None = None  # the adapter for llama.cpp, when the export worked
    export_error: str | None = None  # why there is no GGUF after a completed run


def export_gguf(run_dir: str | Path) -> Path:
    """Write `adapter.gguf` beside the run's PEFT adapter and record it in the manifest.
    Raises AdapterError (or another GlassboxError) when the adapter cannot be converted."""
    from core.finetune.gguf_lora import write_gguf_lora

    run_dir = Path(run_dir)
    manifest = runs.read_manifest(run_dir)
    path = write_gguf_lora(run_dir / runs.ADAPTER_DIR, Path(manifest["base"]["path"]),
                           run_dir / runs.GGUF_ADAPTER)
    runs.update_manifest(run_dir, adapter_gguf=str(path))
    register_adapter(run_dir, path)
    return path


def register_adapter(run_dir: Path, adapter: Path) -> None:
    """Put the exported adapter in the model library under its base. A library that cannot
    take it (another base, a locked list) leaves the adapter usable by path: logged, not
    raised, since the run itself succeeded."""
    from core.models.adapters import AdapterLibrary

    manifest = runs.read_manifest(run_dir)
    try:
        AdapterLibrary().register(adapter, manifest["base"]["path"],
                                  base_sha256=manifest["base"].get("sha256"),
                                  name=run_dir.name, run_dir=run_dir)
    except GlassboxError as exc:
        log.warning("the adapter %s was not added to the model library: %s", adapter, exc)


def _watch_cancel(job: TrainingJob, cancel: threading.Event,
                  done: threading.Event) -> threading.Thread:
    # job.events() blocks between the child's events (loading the model takes many seconds
    # without one), so a cancel token is watched beside it rather than checked per event.
    def watch() -> None:
        while not done.wait(_CANCEL_POLL_S):
            if cancel.is_set():
                job.cancel()
                return

    thread = threading.Thread(target=watch, name="glassbox-finetune-cancel", daemon=True)
    thread.start()
    return thread


def train_and_export(job: TrainingJob, resume: bool = False,
                     on_event: Callable[[Event], None] | None = None,
                     cancel: threading.Event | None = None,
                     timeout_s: float | None = None) -> Outcome:
    """Start (or resume) `job`, pass each event to `on_event`, and export the adapter to GGUF
    when the run completes. Setting `cancel` asks the child to checkpoint and stop (the run
    ends 'cancelled' and stays resumable)."""
    done = threading.Event()
    watcher = _watch_cancel(job, cancel, done) if cancel is not None else None
    try:
        finished = job.run(on_event=on_event, resume=resume, timeout_s=timeout_s)
    finally:
        done.set()
        if watcher is not None:
            watcher.join()
    if not finished.ok:
        return Outcome(finished)
    try:
        return Outcome(finished, str(export_gguf(job.run_dir)))
    except GlassboxError as exc:
        return Outcome(finished, export_error=str(exc))
