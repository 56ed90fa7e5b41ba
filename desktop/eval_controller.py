"""Evaluation off the GUI thread: one job thread owns the eval store's connection and, while a
run goes, an engine process of its own (like Compare's), so the chat's engine stays free.

Every core.evals import happens inside the jobs, on that thread: the window's start path does
not pay for sacrebleu, rouge-score and numpy's statistics until someone evaluates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from core.api import EngineCrashed, GlassboxError
from desktop.job_thread import JobContext, JobThread
from ui.eval_panel import EvalPanel

if TYPE_CHECKING:
    from core.api import EngineClient
    from core.store.evals import EvalStore

log = logging.getLogger(__name__)

_STOP_WAIT_MS = 20_000


class EvalWorker:
    """Lives on the job thread: the store connection and the run's engine belong to it."""

    def __init__(self) -> None:
        self._store: EvalStore | None = None
        self._engine: EngineClient | None = None
        self._remote: Any = None
        self._stop = threading.Event()

    def interrupt(self) -> None:
        """From the GUI thread: end the item being generated (the token stops the loop)."""
        self._stop.set()
        for engine in (self._engine, self._remote):
            if engine is not None:
                engine.cancel()

    def store(self) -> EvalStore:
        from core.api import evals_path
        from core.store.evals import EvalStore

        if self._store is None:
            self._store = EvalStore(evals_path())
        return self._store

    def start_run(self, spec: dict[str, Any]) -> int:
        from core.api import data_home
        from core.evals.runs import start_run
        from core.evals.session import first_items, subjects_from
        from core.evals.sets import load_set

        eval_set = first_items(load_set(spec["set"]), int(spec["limit"]),
                               data_home() / "eval-sets")
        subjects = subjects_from(spec["subjects"], int(spec["max_tokens"]))
        return start_run(self.store(), eval_set, subjects, spec["metrics"]).id

    def drive(self, ctx: JobContext, run_id: int) -> dict[str, Any]:
        """Run or resume `run_id`, reporting (done, total, subject label) per item."""
        from core.api import EngineClient, saved_settings
        from core.evals.runs import ItemScored, RunStarted, SubjectFailed, SubjectStarted
        from core.evals.session import evaluate

        self._stop.clear()
        store = self.store()
        labels = [s["label"] for s in store.get(run_id).subjects]
        self._engine = engine = EngineClient()
        stopped = lambda: self._stop.is_set() or ctx.cancelled()  # noqa: E731
        failures: list[str] = []
        try:
            done, total, label = 0, 0, labels[0]
            for event in evaluate(engine, store, run_id, saved_settings().load,
                                  should_stop=stopped, open_remote=self._open_remote):
                if isinstance(event, RunStarted):
                    done, total = event.already_done, event.total
                elif isinstance(event, SubjectStarted):
                    label = event.label
                elif isinstance(event, ItemScored):
                    done = event.done
                elif isinstance(event, SubjectFailed):
                    failures.append(f"{labels[event.subject]}: {event.message}")
                ctx.progress(done, total, label)
        finally:
            self._close_engine()
        overview = self.overview(run_id)
        overview["failures"] = failures
        return overview

    def overview(self, run_id: int) -> dict[str, Any]:
        from core.evals.session import run_overview

        store = self.store()
        return run_overview(store.get(run_id), store.results(run_id))

    def _open_remote(self, path: str) -> Any:
        from core.api import EngineRegistry

        self._remote = EngineRegistry().open(path)
        return self._remote

    def _close_engine(self) -> None:
        engine, self._engine = self._engine, None
        self._remote = None
        if engine is not None:
            try:
                engine.close()
            except (OSError, EngineCrashed):
                log.exception("closing the evaluation engine failed")

    def close(self) -> None:
        self._close_engine()
        store, self._store = self._store, None
        if store is not None:
            store.close()


def _catalog(_ctx: JobContext) -> dict[str, Any]:
    from core.evals.session import catalog

    return catalog()


def _set_choices(path: str) -> dict[str, Any]:
    from core.evals.session import set_choices

    return set_choices(path)


class EvalController(QObject):
    """Feeds the Evaluate tab; the panel's intents become jobs on the eval thread."""

    learn_requested = Signal(str, str)  # prompt, reply: the window opens them in Learn
    run_finished = Signal(object)  # the run's overview (tests wait on it)

    def __init__(self, panel: EvalPanel, current_model: Callable[[], str | None],
                 show_error: Callable[[str], None], parent: QObject | None = None, *,
                 model_name: Callable[[str], str] | None = None,
                 ask_open_path: Callable[[str, str], str | None] | None = None,
                 ask_save_path: Callable[[str, str, str], str | None] | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self._current_model = current_model
        self._model_name = model_name or (lambda path: Path(path).stem)
        self._show_error = show_error
        self._ask_open = ask_open_path
        self._ask_save = ask_save_path
        self.worker = EvalWorker()
        self.jobs = JobThread("glassbox-eval", self, close=self.worker.close,
                              interrupt=self.worker.interrupt, stop_wait_ms=_STOP_WAIT_MS)
        panel.set_chosen.connect(self._on_set_chosen)
        panel.open_set_file_requested.connect(self._on_open_set_file)
        panel.add_file_requested.connect(self._on_add_file)
        panel.run_requested.connect(self.run)
        panel.stop_requested.connect(self.stop_run)
        panel.resume_requested.connect(self.resume)
        panel.open_requested.connect(self.open)
        panel.export_requested.connect(self._on_export)
        panel.compare_requested.connect(self.compare)
        panel.learn_requested.connect(self.learn_requested)

    def start(self) -> None:
        self.jobs.start()
        self.jobs.call(_catalog, self._on_catalog, self._on_error)
        self.refresh()

    def refresh(self) -> None:
        worker = self.worker
        self.jobs.call(lambda _ctx: [(r.id, r.title, r.status) for r in worker.store().list()],
                       self.panel.set_saved, self._on_error)

    def add_chat_model(self) -> None:
        """The chat's model as the first subject, when the tab opens with none chosen."""
        path = self._current_model()
        if path and self.panel.subject_list.count() == 0:
            self.panel.add_subject(self._model_name(path), path)

    def _on_catalog(self, found: dict[str, Any]) -> None:
        self.panel.set_catalog(found["sets"], found["explanations"])

    def _on_set_chosen(self, path: str) -> None:
        self.jobs.call(lambda _ctx: _set_choices(path), self.panel.set_set_info, self._on_error)

    def _on_open_set_file(self) -> None:
        path = self._ask_open("Open eval set", "Eval sets (*.jsonl *.csv)") if self._ask_open \
            else None
        if path:
            self.jobs.call(lambda _ctx: _set_choices(path), self.panel.add_set, self._on_error)

    def _on_add_file(self) -> None:
        path = self._ask_open("Add a model file", "GGUF models (*.gguf)") if self._ask_open \
            else None
        if path:
            self.panel.add_subject(Path(path).stem, path)

    def run(self, spec: dict[str, Any]) -> None:
        if self.panel.running:
            return
        self.panel.begin_run()
        worker = self.worker

        def job(ctx: JobContext) -> dict[str, Any]:
            run_id = worker.start_run(spec)
            return worker.drive(ctx, run_id)

        self.jobs.call(job, self._on_done, self._on_failed, self.panel.show_progress,
                       self._on_cancelled)

    def resume(self, run_id: int) -> None:
        if self.panel.running:
            return
        self.panel.begin_run()
        worker = self.worker
        self.jobs.call(lambda ctx: worker.drive(ctx, run_id), self._on_done, self._on_failed,
                       self.panel.show_progress, self._on_cancelled)

    def stop_run(self) -> None:
        """Called on the GUI thread: a queued call would wait behind the run it stops."""
        if self.panel.running:
            self.worker.interrupt()
            self.panel.show_message("Stopping…")

    def open(self, run_id: int) -> None:
        worker = self.worker
        self.jobs.call(lambda _ctx: worker.overview(run_id), self.panel.show_run, self._on_error)

    def compare(self, run_a: int, run_b: int) -> None:
        worker = self.worker

        def job(_ctx: JobContext) -> str:
            from core.evals.report import compare_runs

            store = worker.store()
            a, b = store.get(run_a), store.get(run_b)
            rows = compare_runs(a, store.results(a.id), b, store.results(b.id))
            lines = [("⚑ " if r["significant"] else "") + r["note"] for r in rows]
            if a.set_digest != b.set_digest:
                lines.insert(0, "The two runs used different versions of the set; only items "
                                "with the same id are paired.")
            return "\n".join(lines) or "These runs share no scored item to compare."

        self.jobs.call(job, self.panel.results.significance.setText, self._on_error)

    def export(self, run_id: int, fmt: str, path: str) -> None:
        worker = self.worker

        def job(_ctx: JobContext) -> None:
            import json

            from core.evals.report import run_csv, run_json

            store = worker.store()
            run, results = store.get(run_id), store.results(run_id)
            text = (run_csv(run, results) if fmt == "csv" else
                    json.dumps(run_json(run, results), ensure_ascii=False, indent=2) + "\n")
            Path(path).write_text(text, encoding="utf-8")

        self.jobs.call(job, lambda _: self.panel.show_message(f"Exported to {path}."),
                       self._on_error)

    def _on_export(self, run_id: int, fmt: str) -> None:
        if self._ask_save is None:
            return
        filters = {"csv": "CSV (*.csv)", "json": "JSON (*.json)"}
        path = self._ask_save("Export eval run", f"eval-run-{run_id}.{fmt}", filters[fmt])
        if path:
            self.export(run_id, fmt, path)

    def _on_done(self, overview: dict[str, Any]) -> None:
        self.panel.end_run(overview["status"])
        self.panel.show_run(overview)
        if overview.get("failures"):
            self._show_error("Evaluation: " + "; ".join(overview["failures"]))
        self.refresh()
        self.run_finished.emit(overview)

    def _on_failed(self, exc: BaseException) -> None:
        self.panel.end_run("failed")
        message = str(exc) if isinstance(exc, GlassboxError) else (
            f"The evaluation failed unexpectedly: {exc}")
        self.panel.show_message(message)
        self._show_error(message)
        self.refresh()
        self.run_finished.emit(None)

    def _on_cancelled(self) -> None:
        self.panel.end_run("cancelled")
        self.refresh()
        self.run_finished.emit(None)

    def _on_error(self, exc: BaseException) -> None:
        self._show_error(str(exc))

    def stop(self) -> None:
        """End the worker thread (the window is closing)."""
        self.jobs.stop()
