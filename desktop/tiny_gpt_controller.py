"""Connects the Tiny transformer panel to a training run in a child process.

The run (core.foundations.tiny_job.TinyJob) is driven from a worker thread that forwards each
event to the GUI thread; pause, resume and cancel set the child's flags directly (setting a
multiprocessing Event is a few microseconds). The worker imports pyqtgraph before the child
starts, so the panel makes its plots while the child starts up; an event that redraws a view
waits for the frame after another view's redraw (an evaluation brings several at once).
Saving exports the latest checkpoint to a GGUF in the models folder and adds it to the
library, on a thread of its own so it can run while a paused run waits; "Load as chat model"
hands the path to the window (`load_requested`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from desktop.job_thread import JobContext, JobThread
from ui.learn.tiny_gpt_panel import TinyGptPanel

_FRAME_MS = 30  # how often an event held for the next frame is retried (the panel's frame)
_VIEWS_READY = "views-ready"  # the worker has imported pyqtgraph: the plots can be made


class TinyGptController(QObject):
    load_requested = Signal(str)  # the exported GGUF: load it as the chat model

    def __init__(self, panel: TinyGptPanel, show_error: Callable[[str], None],
                 model_path_source: Callable[[], str | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._show_error = show_error
        self._model_path = model_path_source
        self.worker_thread = JobThread("glassbox-tiny-gpt", self)
        self.export_thread = JobThread("glassbox-tiny-gpt-export", self)
        self.job: Any = None  # the TinyJob running now
        self.checkpoint: str | None = None
        self.events: list[Any] = []  # this run's events, for tests and the bench
        self._started: Any = None
        self._held: float | None = None
        self._config: Any = None
        self._pending: deque[Any] = deque()
        self._then: Callable[[], None] | None = None  # the run's ending, once its events are in
        self._drain_timer = QTimer(self)
        self._drain_timer.setInterval(_FRAME_MS)
        # a coarse timer may fire up to 5% early, when the panel still counts the frame busy
        self._drain_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._drain_timer.timeout.connect(self._drain)
        panel.train_requested.connect(self.train)
        panel.pause_requested.connect(self.pause)
        panel.resume_requested.connect(self.resume)
        panel.cancel_requested.connect(self.cancel)
        panel.save_requested.connect(self.save)
        panel.load_requested.connect(self.load_requested)
        panel.settings_changed.connect(self._on_settings)

    def start(self) -> None:
        from core.foundations.tiny_data import sample_texts

        self.worker_thread.start()
        self.export_thread.start()
        self._panel.set_samples([(f"Sample: {p.stem}", f"sample:{p.stem}")
                                 for p in sample_texts()])

    def stop(self) -> None:
        self.worker_thread.stop()
        self.export_thread.stop()

    @property
    def running(self) -> bool:
        return self.job is not None

    # -- training ----------------------------------------------------------------------------
    def _config_from(self, sizes: dict[str, Any]) -> Any:
        from dataclasses import replace

        from core.foundations.tiny_model import TinyConfig

        base = TinyConfig()
        steps = int(sizes.get("steps", base.steps))
        # about 12 held-out points and 6 samples a run, whatever its length
        return replace(base, **sizes, eval_every=max(1, steps // 12),
                       sample_every=max(1, steps // 6))

    def _on_settings(self, sizes: dict[str, Any]) -> None:
        from core.api import GlassboxError
        from core.foundations.tiny_model import parameter_count

        try:
            config = self._config_from(sizes)
            config.validate()
        except GlassboxError as exc:
            self._panel.set_parameter_text(str(exc))
            return
        body = parameter_count(config, 0)
        self._panel.set_parameter_text(
            f"{body:,} parameters in the layers, plus {config.width} for each distinct token "
            f"of the text (a few KB of text use about 1,000: ≈{parameter_count(config, 1000):,}"
            " in all).")

    def _tokenizer(self) -> str:
        from core.models.bundled import default_chat_model

        path = self._model_path()
        # a remote chat model has no local tokenizer file: the bundled model's is the same kind
        return path if path and Path(path).is_file() else str(default_chat_model())

    def train(self, source: str, sizes: dict[str, Any]) -> None:
        from core.api import GlassboxError

        if self.running:
            return
        try:
            config = self._config_from(sizes)
            config.validate()
            tokenizer = self._tokenizer()
        except GlassboxError as exc:
            self._panel.set_status(str(exc))
            return
        except Exception as exc:  # the bundled model missing: ModelLoadError says how to fix
            self._show_error(str(exc))
            return
        self._config, self._started, self._held = config, None, None
        self.events, self.checkpoint = [], None
        self._panel.set_checkpoint(False)
        self._panel.set_running(True)
        self._panel.set_status("Reading the text and starting the training process…")
        self.job = True  # busy from now on: the worker sets the real job
        self._pending.clear()
        self._drain_timer.stop()
        self._then = None
        name = self._panel.name() or "my-tiny-model"

        def run(ctx: JobContext) -> Any:
            # pyqtgraph is imported here, off the GUI thread, before the first plot needs it
            # (imported by the first draw it stalled the window for about 2 s); the panel then
            # makes its plots while the training process starts
            import pyqtgraph  # noqa: F401

            import ui.learn.heatmap_plot  # noqa: F401
            from ui.learn.heatmap_grid import colormap_lut

            colormap_lut()  # read from pyqtgraph's file once, here rather than by the heatmap
            ctx.progress(_VIEWS_READY)
            # the run folder's module brings the CLI's imports: 20 to 90 ms on the GUI thread
            from core.cli_learn_tiny import run_folder
            from core.foundations.tiny_job import TinyJob
            from core.foundations.tiny_sources import load_text

            folder = run_folder(name)  # a bad name: FoundationsError, in the status line
            job = TinyJob(config, load_text(source), tokenizer, folder)
            self.job = job
            job.start()
            last = None
            for event in job.events(stop=ctx.cancel_event):
                ctx.progress(event)
                last = event
            return last

        self.worker_thread.call(
            run, on_done=lambda event: self._after_events(lambda: self._on_finished(event)),
            on_error=lambda exc: self._after_events(lambda: self._on_error(exc)),
            on_progress=self._queue,
            on_cancelled=lambda: self._after_events(self._on_cancelled))

    def pause(self) -> None:
        if self.job is not None and self.job is not True:
            self.job.pause()
            self._panel.set_status("Pausing after this step…")

    def resume(self) -> None:
        if self.job is not None and self.job is not True:
            self.job.unpause()
            self._panel.set_checkpoint(False)

    def cancel(self) -> None:
        if self.job is not None and self.job is not True:
            self.job.cancel()
        else:
            self.worker_thread.cancel()

    def _queue(self, event: Any) -> None:
        """Events reach the views at most one redraw per frame: an evaluation brings the
        held-out loss, the attention maps, the embedding map and a sample at once, and drawn
        in one event-loop turn their drawings stalled the window for their sum."""
        if isinstance(event, str) and event == _VIEWS_READY:
            self._panel.prepare_views()
            return
        self._pending.append(event)
        if not self._drain_timer.isActive():
            self._drain()  # nothing waiting: this one goes in now unless it must wait a frame

    def _drain(self) -> None:
        from core.foundations import tiny_events as ev

        while self._pending:
            event = self._pending[0]
            if (isinstance(event, ev.AttentionMaps | ev.Embeddings | ev.Sample)
                    and self._panel.drew_recently()):
                if not self._drain_timer.isActive():
                    self._drain_timer.start()  # it redraws a view: it waits for the next frame
                return
            self._on_event(self._pending.popleft())
        self._drain_timer.stop()
        if self._then is not None:
            then, self._then = self._then, None
            then()

    def _after_events(self, then: Callable[[], None]) -> None:
        """`then` (the run's ending) once the events before it have reached the views, so
        that a finished run shows all it sent (tests and the bench wait on `running`)."""
        self._then = then
        if not self._drain_timer.isActive():
            self._drain()

    def _on_event(self, event: Any) -> None:
        from core.foundations import tiny_events as ev

        self.events.append(event)
        panel = self._panel
        if isinstance(event, ev.Started):
            self._started = event
            panel.start_run(event.unigram_entropy)
            panel.set_parameter_text(
                f"{event.parameters:,} parameters trained ({event.vocab_rows - 1:,} distinct "
                f"tokens of {event.full_vocab:,}, plus one row for all the others); "
                f"{event.exported_parameters:,} in the exported GGUF, which has a row for "
                "every token.")
        elif isinstance(event, ev.Step):
            panel.add_step(event.step, event.train_loss)
            panel.set_status(self._status_line(event.step, event.train_loss,
                                               event.tokens_per_s))
        elif isinstance(event, ev.HeldOut):
            self._held = event.loss
            panel.add_held_out(event.step, event.loss)
        elif isinstance(event, ev.Sample):
            panel.add_sample(event.step, event.prompt, event.text)
        elif isinstance(event, ev.AttentionMaps):
            panel.show_attention(event.step, list(event.tokens), event.maps)
        elif isinstance(event, ev.Embeddings):
            panel.show_embeddings(event.step, list(event.pieces), event.xy, event.explained)
        elif isinstance(event, ev.Paused):
            self.checkpoint = event.checkpoint
            panel.set_checkpoint(True)
            panel.set_status(f"Paused at step {event.step}. Resume, or save what it has "
                             "learned so far as a GGUF.")

    def _status_line(self, step: int, loss: float, tokens_per_s: float) -> str:
        total = self._config.steps if self._config is not None else step
        held = f" · held-out {self._held:.3f}" if self._held is not None else ""
        floor = (f" · token frequencies alone: {self._started.unigram_entropy:.3f}"
                 if self._started is not None else "")
        return (f"Step {step:,} of {total:,} · training loss {loss:.3f}{held}{floor} · "
                f"{tokens_per_s:,.0f} tokens/s")

    def _on_finished(self, event: Any) -> None:
        self.job = None
        self._panel.set_running(False)
        if not event:
            return
        self.checkpoint = event.checkpoint
        self._panel.set_checkpoint(bool(event.checkpoint))
        self._panel.set_status(event.message + (" Save it as a GGUF to open it in the other "
                                                "Learn panels." if event.ok else ""))

    def _on_error(self, exc: BaseException) -> None:
        self.job = None
        self._panel.set_running(False)
        self._panel.set_status(str(exc))

    def _on_cancelled(self) -> None:
        self.job = None
        self._panel.set_running(False)
        self._panel.set_status("Cancelled.")

    # -- saving ------------------------------------------------------------------------------
    def save(self, name: str) -> None:
        checkpoint = self.checkpoint
        if not checkpoint:
            return
        self._panel.set_status("Writing the GGUF…")

        def export(_: JobContext) -> tuple[str, str]:
            from core.cli_learn_tiny import run_folder
            from core.foundations.tiny_gguf import export_to_library

            run_folder(name)  # the same naming rule as the CLI's --out
            path, library_name = export_to_library(checkpoint, name)
            return str(path), library_name

        self.export_thread.call(export, on_done=self._on_saved,
                                on_error=lambda exc: self._panel.set_status(str(exc)))

    def _on_saved(self, result: tuple[str, str]) -> None:
        path, name = result
        self._panel.set_exported(path)
        self._panel.set_status(f"Saved {path}; it is in the model library as {name}. Load it "
                               "as the chat model to see it in Next token, Surprise, Attention "
                               "and Anatomy.")
