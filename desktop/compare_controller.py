"""Comparisons off the GUI thread: a worker with its own engine process and database connection.

The chat's engine stays free for the chat (and its crash recovery stays simple): a comparison
starts its own engine child, loads the chat's model with the same load settings, runs the
variants through core.prompts.compare, saves the result, and closes the child again so a large
model is not held twice while nobody compares.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal

from core.api import EngineCrashed, GlassboxError, LoadSettings, SamplingSettings
from core.engine.remote_paths import is_remote
from core.settings import read
from desktop.job_thread import JobThread
from desktop.store_worker import StoreClient
from ui.compare_panel import ComparePanel

if TYPE_CHECKING:
    from core.api import ChatStore, Comparison, EngineClient, ModelInfo, RemoteEngine, Variant

log = logging.getLogger(__name__)

_STOP_WAIT_MS = 20_000


class CompareWorker(QObject):
    column_started = Signal(int, str, str)  # column, the engine's name for the model, its path
    token = Signal(int, str)  # column, text
    column_done = Signal(int, object, str)  # column, stats dict, status
    column_failed = Signal(int, str)  # column, message for a person
    finished = Signal(object)  # the saved comparison's id, or None if nothing ran
    failed = Signal(str)  # the whole run failed before any column

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self._db_path = db_path
        self._store: ChatStore | None = None
        self._engine: EngineClient | None = None
        self._remote: RemoteEngine | None = None  # the server answering the current column
        self._stop = threading.Event()

    def stop(self) -> None:
        """Called from the GUI thread: end the current column and run no further ones."""
        self._stop.set()
        for engine in (self._engine, self._remote):
            if engine is not None:
                engine.cancel()

    def run(self, prompt: str, specs: list[dict[str, Any]], values: dict[str, str],
            model_path: str) -> None:
        self._stop.clear()
        try:
            store = self._open_store()
            variants = _variants(store, specs, values)
            from core.prompts.compare import check_variants

            check_variants(prompt, variants)
            outputs = self._run(prompt, variants, model_path)
        except GlassboxError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a bug must not leave the window waiting forever
            log.exception("comparison failed")
            self.failed.emit(f"The comparison failed unexpectedly: {exc}")
            return
        finally:
            self._close_engine()
        try:
            from core.prompts.compare import comparison_title
            from core.store.comparisons import VariantResult

            title = comparison_title(prompt, [v.label for v in variants],
                                     [c.title for c in store.comparisons.list()])
            saved = store.comparisons.save(prompt, [
                VariantResult(v, *outputs[i]) for i, v in enumerate(variants)], title)
        except GlassboxError as exc:
            self.failed.emit(f"The comparison ran but could not be saved: {exc}")
            return
        self.finished.emit(saved.id)

    def _open_store(self) -> ChatStore:
        from core.api import ChatStore

        if self._store is None:
            self._store = ChatStore(self._db_path)
            self._store.presets.seed()
        return self._store

    def _run(self, prompt: str, variants: list[Variant],
             model_path: str) -> dict[int, tuple[str, str, dict[str, Any] | None]]:
        from core.api import EngineClient, run_comparison
        from core.prompts.compare import VariantDone, VariantFailed, VariantStarted, VariantToken

        outputs: dict[int, tuple[str, str, dict[str, Any] | None]] = {
            i: ("", "interrupted", None) for i in range(len(variants))}
        self._engine = engine = EngineClient()
        load = self._loader(engine)
        if is_remote(model_path):
            # The chat is on a server: the columns without a model of their own ask it too,
            # and no local model is loaded unless a column names one.
            variants = [v if v.model_path else replace(v, model_path=model_path)
                        for v in variants]
        else:
            load(model_path)
        for event in run_comparison(engine, prompt, variants, self._stop.is_set, load,
                                    self._open_remote):
            if self._stop.is_set():
                self.stop()  # a Stop that came between two columns, or before a server
            if isinstance(event, VariantToken):
                self.token.emit(event.index, event.text)
            elif isinstance(event, VariantStarted):
                self.column_started.emit(event.index, event.model_name, event.model_path)
            elif isinstance(event, VariantDone):
                status = "interrupted" if event.finish_reason == "cancelled" else "complete"
                stats = asdict(event.stats)
                outputs[event.index] = (event.text, status, stats)
                self.column_done.emit(event.index, stats, status)
            elif isinstance(event, VariantFailed):
                outputs[event.index] = (event.text or event.message, "failed", None)
                self.column_failed.emit(event.index, event.message)
        return outputs

    def _open_remote(self, path: str) -> RemoteEngine:
        from core.api import EngineRegistry

        self._remote = EngineRegistry(self._db_path).open(path)
        return self._remote

    def _loader(self, engine: EngineClient) -> Callable[..., ModelInfo]:
        from core.engine.loading import load_model

        assert self._store is not None
        settings = read(self._store.settings, LoadSettings)

        def load(path: str, loras: tuple[tuple[str, float], ...] = ()) -> ModelInfo:
            return load_model(engine, path, settings, loras)

        return load

    def _close_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            try:
                engine.close()
            except (OSError, EngineCrashed):
                log.exception("closing the comparison engine failed")

    def close(self) -> None:
        """On the worker thread, when it stops: the engine child and the connection."""
        self._close_engine()
        store, self._store = self._store, None
        if store is not None:
            store.close()


def _variants(store: ChatStore, specs: list[dict[str, Any]],
              values: dict[str, str]) -> list[Variant]:
    from core.api import Variant

    base = read(store.settings, SamplingSettings)
    variants = []
    for spec in specs:
        sampling = replace(base, temperature=float(spec["temperature"]))
        if spec.get("preset"):
            variants.append(Variant.from_preset(store.presets.get(spec["preset"]), values,
                                                sampling, spec.get("model_path"), spec["label"]))
        else:
            variants.append(Variant(spec["label"], (), sampling, spec.get("model_path")))
    return variants


def comparison_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """A saved comparison's columns as the panel shows them."""
    return [{"label": r.variant.label, "preset": r.variant.preset,
             "temperature": r.variant.sampling.temperature, "model_path": r.variant.model_path,
             "output": r.output, "status": r.status, "stats": r.stats}
            for r in comparison.results]


class CompareController(QObject):
    """Feeds the Compare tab: runs on the worker, saved comparisons through the store."""

    run_finished = Signal(object)  # saved comparison id, or None

    def __init__(self, store: StoreClient, panel: ComparePanel, db_path: Path,
                 current_model: Callable[[], str | None], show_error: Callable[[str], None],
                 parent: QObject | None = None,
                 model_name: Callable[[str], str] | None = None) -> None:
        """`model_name(path)` names a model as the rest of the window does (its library
        name, "bundled:smollm2-135m-instruct"); without it a column shows the engine's name,
        its file's stem."""
        super().__init__(parent)
        self._store = store
        self.panel = panel
        self._current_model = current_model
        self._model_name = model_name
        self._show_error = show_error
        self.worker = CompareWorker(db_path)
        # A stop ends the running column at once (the worker cancels its engine child).
        self.jobs = JobThread("glassbox-compare", self, close=self.worker.close,
                              interrupt=self.worker.stop, stop_wait_ms=_STOP_WAIT_MS)
        self.jobs.move_here(self.worker)  # its signals reach the GUI thread queued
        # Bound methods of this GUI-thread object, so the calls are queued onto that thread
        # (a lambda would run on the worker's thread and touch widgets from there).
        w = self.worker
        w.column_started.connect(self._on_column_started)
        w.token.connect(self._on_token)
        w.column_done.connect(self._on_column_done)
        w.column_failed.connect(self._on_column_failed)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        panel.run_requested.connect(self.run)
        # Called here, on the GUI thread: a queued call would wait behind the run it stops.
        panel.stop_requested.connect(self._on_stop_requested)
        panel.open_requested.connect(self.open)
        panel.delete_requested.connect(self.delete)

    @property
    def worker_thread(self) -> QThread:
        return self.jobs.qthread

    def start(self) -> None:
        self.jobs.start()
        self.refresh()

    def refresh(self) -> None:
        def job(s: ChatStore) -> tuple[list[str], list[tuple[int, str, float]]]:
            s.presets.seed()
            return ([p.name for p in s.presets.list()],
                    [(c.id, c.title, c.created_at) for c in s.comparisons.list()])

        self._store.call(job, self._on_listed)

    def _on_listed(self, result: tuple[list[str], list[tuple[int, str, float]]]) -> None:
        names, saved = result
        self.panel.set_presets(names)
        self.panel.set_saved(saved)

    def run(self, prompt: str, specs: list[dict[str, Any]], variables: str) -> None:
        from core.prompts.presets import parse_values

        if self.panel.running:
            return
        model = self._current_model()
        if model is None:
            self.panel.show_message("No model is loaded: choose one in the chat's Model list, "
                                    "then compare.")
            return
        try:
            values = parse_values(variables)
        except GlassboxError as exc:
            self.panel.show_message(str(exc))
            return
        self.panel.begin_run()
        worker = self.worker
        self.jobs.call(lambda _ctx: worker.run(prompt, specs, values, model))

    def _on_stop_requested(self) -> None:
        if self.panel.running:
            self.worker.stop()
            self.panel.state_label.setText("Stopping…")

    def _on_column_started(self, index: int, model_name: str, path: str) -> None:
        if self._model_name is not None and path:
            model_name = self._model_name(path)
        self.panel.columns[index].start(model_name)

    def _on_token(self, index: int, text: str) -> None:
        self.panel.columns[index].append(text)

    def _on_column_done(self, index: int, stats: dict[str, Any], status: str) -> None:
        self.panel.columns[index].show_stats(stats, status)

    def _on_column_failed(self, index: int, message: str) -> None:
        self.panel.columns[index].show_stats(None, "failed", message)

    def _on_finished(self, comparison_id: int | None) -> None:
        self.panel.end_run(comparison_id, "Saved")
        self.run_finished.emit(comparison_id)
        self.refresh()

    def _on_failed(self, message: str) -> None:
        self.panel.end_run(None, "Failed")
        self.panel.show_message(message)
        self._show_error(message)
        self.run_finished.emit(None)

    def open(self, comparison_id: int) -> None:
        if self.panel.running:
            return
        self._store.call(lambda s: s.comparisons.get(comparison_id),
                         lambda c: self.panel.show_comparison(c.id, c.prompt,
                                                              comparison_rows(c)),
                         self._show_error)

    def delete(self, comparison_id: int) -> None:
        self._store.call(lambda s: s.comparisons.delete(comparison_id),
                         lambda _: self.refresh(), self._show_error)

    def export(self, comparison_id: int, fmt: str, path: str) -> None:
        """Write a saved comparison as Markdown ("md") or JSON to `path`."""
        def job(s: ChatStore) -> None:
            from core.store.export import (
                comparison_to_json,
                comparison_to_markdown,
                write_json,
                write_text,
            )

            comparison = s.comparisons.get(comparison_id)
            if fmt == "json":
                write_json(Path(path), comparison_to_json(comparison))
            else:
                write_text(Path(path), comparison_to_markdown(comparison))

        self._store.call(job, None, self._show_error)

    def stop(self) -> None:
        """End the worker thread (the window is closing)."""
        self.jobs.stop()
