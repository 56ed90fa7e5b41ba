"""Connects the Fine-tune lab panel to the fine-tune core: data, plan, training, what changed.

Two worker threads, so a long run never holds up the quick jobs: `lab` loads data, the
tokenizer (transformers, imported there, never on the GUI thread), plans, previews, lists runs
and measures an adapter (llama.cpp in a child process); `training` drives one run at a time
(the training itself is a child process: core.finetune.job) and forwards its events as
progress. Cancel sets the run's token; core.finetune.pipeline turns that into the child's
checkpoint-and-stop, so a cancelled run resumes where it stopped, as one the app lost does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt

from core.api import GlassboxError
from desktop.job_thread import JobContext, JobThread
from desktop.learn_lab_worker import LabHandle, LabProgress
from desktop.remote_switch import is_remote
from ui.learn.finetune_panel import FinetunePanel

if TYPE_CHECKING:
    from core.finetune.data import Dataset, Example
    from core.finetune.lab import LossCurves
    from core.finetune.pipeline import Outcome
    from core.finetune.plan import Plan

UseAdapter = Callable[[str, str, float], None]  # base model path, adapter GGUF, scale
SetAdapterScale = Callable[[str, float], None]  # adapter GGUF, scale


def _run_line(manifest: dict[str, Any]) -> str:
    loss = manifest.get("held_out_loss")
    held = f", held-out loss {loss:.3f}" if isinstance(loss, int | float) else ""
    total = manifest.get("total_steps")
    steps = f"step {manifest.get('step') or 0} of {total}" if total else "not started"
    return f"{manifest.get('name')} · {manifest.get('status')} · {steps}{held}"


class FinetuneController(QObject):
    """`model_path_source()` gives the chat model's file: the base model a run trains."""

    def __init__(self, panel: FinetunePanel, show_error: Callable[[str], None],
                 model_path_source: Callable[[], str | None],
                 parent: QObject | None = None, *,
                 use_adapter: UseAdapter | None = None,
                 set_adapter_scale: SetAdapterScale | None = None,
                 needs_local: Callable[[str], None] | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._show_error = show_error
        self._needs_local = needs_local or show_error
        self._model_path = model_path_source
        self._use_adapter = use_adapter
        self._set_scale = set_adapter_scale
        self.lab = LabHandle("glassbox-finetune-lab", show_error, self)
        self.training = JobThread("glassbox-finetune-train", self)
        self._tokenizers: dict[str, tuple[Any, Any]] = {}  # touched on the lab thread only
        self.dataset: Dataset | None = None
        self.plan: Plan | None = None
        self.curves: LossCurves | None = None
        self.outcome: Outcome | None = None
        self.run_name = ""  # the run shown: trained now, or opened from the list
        self.run_base = ""
        self.run_adapter: str | None = None
        self.run_held_out: list[Example] = []
        self.effect: Any = None
        self.anatomy: Any = None
        self.in_chat: str | None = None  # the adapter the chat model was loaded with
        self._train_job: int | None = None
        self._effect_job: int | None = None
        self._plan_job: int | None = None
        self._set_up_panel()

    def _set_up_panel(self) -> None:
        from core.finetune.gguf_lora import MODULES
        from core.finetune.settings import TrainingSettings, explain

        values = TrainingSettings().to_json()
        self._panel.set_settings(values, {name: explain(name) for name in values},
                                 list(MODULES))
        panel = self._panel
        panel.open_file_requested.connect(self.open_file)
        panel.sample_requested.connect(self.open_sample)
        panel.settings_changed.connect(self.replan)
        panel.example_selected.connect(self.preview)
        panel.train_requested.connect(self.train)
        panel.cancel_requested.connect(self.cancel)
        panel.resume_requested.connect(self.resume)
        panel.run_selected.connect(self.open_run)
        panel.held_out_selected.connect(self.measure)
        panel.use_in_chat_requested.connect(self.use_in_chat)
        panel.scale_changed.connect(self._on_scale)

    def start(self) -> None:
        self.lab.start()
        self.training.start()
        self.refresh_runs()

    def stop(self) -> None:
        self.lab.stop()
        self.training.stop()

    @property
    def busy(self) -> bool:
        return self.lab.busy or self.training.busy

    @property
    def training_now(self) -> bool:
        return self._train_job is not None

    # -- the base model ---------------------------------------------------------------------
    def _base(self, quiet: bool = False) -> str | None:
        path = self._model_path()
        if not path:
            if not quiet:
                self._show_error("Load a chat model first: fine-tuning trains the chat model.")
            return None
        if is_remote(path):
            if not quiet:
                self._needs_local(f"The fine-tune lab trains the model's own weights, so it "
                                  f"needs a local model ({path} runs on a server).")
            return None
        return path

    def _tokenizer(self, base: str) -> tuple[Any, Any]:
        """(tokenizer, chat template) of `base`, loaded once (on the lab thread)."""
        if base not in self._tokenizers:
            from core.finetune.encode import load_tokenizer, template_for

            tokenizer = load_tokenizer(base)
            self._tokenizers[base] = (tokenizer, template_for(base, tokenizer))
        return self._tokenizers[base]

    def on_model_loaded(self, *_: object) -> None:
        """A new chat model: plan again (the tokenizer and the estimate follow the model)."""
        if self.dataset is not None:
            self.replan()

    # -- data -------------------------------------------------------------------------------
    def open_sample(self) -> None:
        def job(_cancel: threading.Event, _progress: LabProgress) -> Dataset:
            from core.finetune.lab import load_sample

            return load_sample()

        self._panel.show_progress(0, "Reading the sample data…")
        self.lab.call(job, self._on_dataset)

    def open_file(self, path: str) -> None:
        def job(_cancel: threading.Event, _progress: LabProgress) -> Dataset:
            from core.finetune.data import load_file

            return load_file(path)

        self._panel.show_progress(0, f"Reading {Path(path).name}…")
        self.lab.call(job, self._on_dataset)

    def _on_dataset(self, result: object) -> None:
        from core.finetune.lab import example_title

        dataset: Dataset = result  # type: ignore[assignment]
        self.dataset = dataset
        self.plan = None
        self._panel.show_dataset(Path(dataset.source).name,
                                 [example_title(e) for e in dataset.examples],
                                 list(dataset.problems))
        self._panel.set_run_name(self._suggest_name(Path(dataset.source).stem))
        self._panel.show_progress(0, f"{len(dataset.examples)} examples read"
                                  + (f", {len(dataset.problems)} lines skipped (listed on the "
                                     "Data page)." if dataset.problems else "."))
        self.replan()

    def _suggest_name(self, stem: str) -> str:
        runs = self._panel.runs
        taken = {runs.item(i).data(Qt.ItemDataRole.UserRole) for i in range(runs.count())}
        stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in stem).strip("-._")
        stem = stem or "adapter"
        number = 1
        while f"{stem}-{number}" in taken:
            number += 1
        return f"{stem}-{number}"

    def _settings(self, values: dict[str, Any] | None = None) -> Any:
        from core.finetune.job import with_overrides
        from core.finetune.settings import TrainingSettings

        return with_overrides(TrainingSettings(), **(values or self._panel.settings.values()))

    def replan(self) -> None:
        """The split, the encoded examples and the estimate, for the settings shown."""
        dataset = self.dataset
        base = self._base(quiet=True)
        if dataset is None:
            return
        if base is None:
            self._panel.show_estimate("Load a local chat model to see the estimate.")
            return
        values = self._panel.settings.values()

        def job(_cancel: threading.Event, progress: LabProgress) -> Plan:
            from core.finetune.plan import plan

            progress(0, 1, "reading the model's tokenizer")
            tokenizer, _template = self._tokenizer(base)
            return plan(self._settings(values), dataset, base, tokenizer)

        if self._plan_job is not None:
            self.lab.cancel(self._plan_job)  # planned for settings no longer shown
        self._plan_job = self.lab.call(job, self._on_plan, self._on_plan_failed,
                                       self._on_lab_progress)

    def _on_plan(self, result: object) -> None:
        plan: Plan = result  # type: ignore[assignment]
        self.plan, self._plan_job = plan, None
        self._panel.show_split(set(plan.split.held_out_indices))
        cut = f", {plan.train.truncated} cut to the maximum length" \
            if plan.train.truncated else ""
        dropped = f", {plan.train.dropped} dropped" if plan.train.dropped else ""
        self._panel.show_estimate(
            f"<b>Before you start</b>: {len(plan.split.train)} examples to train on, "
            f"{len(plan.split.held_out)} held out; {plan.train.tokens} tokens of which "
            f"{plan.train.trained_tokens} are learned{cut}{dropped}. Estimate: "
            f"{plan.estimate.describe()}.")
        self._panel.show_progress(0, "Ready: check an example's preview, then Train.")
        row = self._panel.examples.currentRow()
        if row >= 0:
            self.preview(row)

    def _on_plan_failed(self, message: str) -> None:
        # A setting out of range is shown where the estimate goes, not as an error banner:
        # it is what the learner is typing now.
        self._plan_job = None
        self._panel.show_estimate(f"<b>Cannot train with these settings</b>: {message}")

    def preview(self, index: int) -> None:
        dataset, base = self.dataset, self._base(quiet=True)
        if dataset is None or base is None or not 0 <= index < len(dataset.examples):
            return
        example = dataset.examples[index]
        values = self._panel.settings.values()

        def job(_cancel: threading.Event, _progress: LabProgress) -> Any:
            from core.finetune.encode import preview

            tokenizer, template = self._tokenizer(base)
            settings = self._settings(values)
            return preview(example, tokenizer, template, settings.max_length,
                           settings.drop_overlong)

        self.lab.call(job, lambda result: self._panel.show_preview(result, index),
                      self._on_plan_failed)  # type: ignore[arg-type]

    def _on_lab_progress(self, done: int, total: int, what: str) -> None:
        if not self.training_now:
            self._panel.show_progress(done * 100 // max(total, 1),
                                      what[:1].upper() + what[1:] + "…")

    # -- training ---------------------------------------------------------------------------
    def train(self, name: str, values: dict[str, Any]) -> None:
        dataset = self.dataset
        if dataset is None:
            self._show_error("Choose the examples first: open a data file or try the sample "
                             "data.")
            return
        base = self._base()
        if base is None or self.training_now:
            return

        def start(ctx: JobContext) -> Any:
            from core.finetune import runs
            from core.finetune.job import TrainingJob

            job = TrainingJob(self._settings(values), dataset, base, runs.run_folder(name))
            return job

        self._run(name, start, f"Starting run {name}…")

    def resume(self, name: str) -> None:
        if self.training_now:
            return

        def start(ctx: JobContext) -> Any:
            from core.finetune import runs
            from core.finetune.job import TrainingJob
            from core.finetune.lab import loss_curves

            job = TrainingJob.open(runs.run_folder(name))
            ctx.progress(loss_curves(job.manifest))  # the curve so far, before new points
            return job

        self._run(name, start, f"Resuming run {name} from its latest checkpoint…",
                  resume=True)

    def _run(self, name: str, start: Callable[[JobContext], Any], message: str,
             resume: bool = False) -> None:
        from core.finetune.lab import LossCurves

        def job(ctx: JobContext) -> tuple[str, Outcome]:
            from core.finetune.pipeline import train_and_export

            training_job = start(ctx)
            return name, train_and_export(training_job, resume, on_event=ctx.progress,
                                          cancel=ctx.cancel_event)

        self.run_name = name
        self.curves = LossCurves()
        self._panel.loss.reset()
        self._panel.no_adapter(f"Run {name} is training; what it changed shows here when it "
                               "completes.")
        self._panel.set_training(True, message)
        self._train_job = self.training.call(job, self._on_trained, self._on_train_failed,
                                             self._on_event)

    def cancel(self) -> None:
        if self._train_job is not None:
            self._panel.show_progress(self._panel.progress.value(),
                                      "Stopping after the step in hand and saving a "
                                      "checkpoint…")
            self.training.cancel(self._train_job)
        if self._effect_job is not None:
            self.lab.cancel(self._effect_job)

    def _on_event(self, event: object) -> None:
        from core.finetune.events import Evaluated, Progress, Stage, Started
        from core.finetune.lab import LossCurves

        panel = self._panel
        if isinstance(event, LossCurves):
            self.curves = event
            panel.show_curves(event)
        elif isinstance(event, Stage):
            panel.show_progress(panel.progress.value(), event.what[:1].upper()
                                + event.what[1:] + "…")
        elif isinstance(event, Started):
            panel.show_progress(event.start_step * 100 // max(event.total_steps, 1),
                                f"Training {event.total_steps} steps on "
                                f"{event.train_examples} examples ({event.estimate}).")
        elif isinstance(event, Progress) and self.curves is not None:
            self.curves.add_train(event.step, event.train_loss)
            panel.show_curves(self.curves)
            panel.show_progress(event.step * 100 // max(event.total_steps, 1),
                                f"Step {event.step} of {event.total_steps} · epoch "
                                f"{event.epoch} · loss {event.train_loss:.3f} · "
                                f"{event.tokens_per_s:.0f} tokens/s · about "
                                f"{event.seconds_left:.0f} s left")
        elif isinstance(event, Evaluated) and self.curves is not None:
            self.curves.add_held_out(event.step, event.held_out_loss)
            panel.show_curves(self.curves)

    def _on_trained(self, result: object) -> None:
        name, outcome = result  # type: ignore[misc]
        self._train_job = None
        self.outcome = outcome
        finished = outcome.finished
        if finished.status == "completed":
            gguf = outcome.adapter_gguf
            note = f" The llama.cpp adapter could not be written: {outcome.export_error}" \
                if outcome.export_error else ""
            message = (f"Run {name} completed: {finished.step} steps, held-out loss "
                       f"{finished.held_out_loss or 0:.3f}.{note}")
            self._panel.set_training(False, message)
            self._panel.progress.setValue(100)
            if gguf:
                self._panel.pages.setCurrentIndex(2)
        elif finished.status == "cancelled":
            self._panel.set_training(False, f"Stopped at step {finished.step} of "
                                     f"{finished.total_steps}; a checkpoint was saved. "
                                     "Resume continues from there.")
        else:
            self._panel.set_training(False, f"Run {name} stopped: {finished.error}")
            self._show_error(finished.error or f"Run {name} failed.")
        self.refresh_runs(select=name)

    def _on_train_failed(self, exc: BaseException) -> None:
        self._train_job = None
        self._panel.set_training(False, "The run did not start; see the message above.")
        message = str(exc) if isinstance(exc, GlassboxError) else \
            f"The run failed ({type(exc).__name__}: {exc})."
        self._show_error(message)
        self.refresh_runs(select=self.run_name)

    # -- previous runs ----------------------------------------------------------------------
    def refresh_runs(self, select: str = "") -> None:
        def job(_cancel: threading.Event, _progress: LabProgress) -> list[dict[str, Any]]:
            from core.finetune.runs import list_runs

            return list_runs()

        def done(result: object) -> None:
            manifests: list[dict[str, Any]] = result  # type: ignore[assignment]
            self._panel.show_runs([(str(m.get("name")), _run_line(m)) for m in manifests],
                                  select)
            if select:
                self.open_run(select)

        self.lab.call(job, done)

    def open_run(self, name: str) -> None:
        """Show a run: its curve, whether it can resume, and its adapter when it has one."""
        def job(_cancel: threading.Event, _progress: LabProgress) -> tuple[Any, ...]:
            from core.finetune import lab, runs

            manifest = runs.read_manifest(runs.run_folder(name))
            return (manifest, lab.loss_curves(manifest), lab.adapter_gguf(manifest),
                    lab.held_out_examples(name), lab.resumable(manifest))

        self.lab.call(job, self._on_run_opened)

    def _on_run_opened(self, result: object) -> None:
        from core.finetune.lab import example_title

        manifest, curves, gguf, held_out, resumable = result  # type: ignore[misc]
        if self.training_now:
            return  # the live run owns the curve
        name = str(manifest.get("name"))
        self.run_name, self.curves = name, curves
        self.run_base = str(manifest.get("base", {}).get("path", ""))
        self.run_adapter, self.run_held_out = gguf, held_out
        self._panel.show_curves(curves)
        self._panel.set_resumable(resumable)
        if gguf is None:
            self._panel.no_adapter(f"Run {name} has no finished adapter yet ("
                                   f"{manifest.get('status')}): resume it on the Train page.")
            return
        self._panel.show_adapter(
            name, f"Adapter <b>{name}</b>: trained on {manifest['split']['train']} examples; "
            f"{len(held_out)} held out, never trained on: pick one to read it with and "
            "without the adapter.", [example_title(e) for e in held_out])
        self.measure(0)

    # -- what changed -----------------------------------------------------------------------
    def measure(self, index: int) -> None:
        """Read held-out example `index` with and without the shown run's adapter."""
        adapter, base = self.run_adapter, self.run_base
        if adapter is None or not 0 <= index < len(self.run_held_out):
            return
        example = self.run_held_out[index]
        scale = self._panel.scale.value()

        def job(cancel: threading.Event, progress: LabProgress) -> tuple[Any, Any]:
            from core.finetune.effect import adapter_effect
            from core.finetune.gguf_lora import adapter_anatomy
            from core.finetune.lab import effect_text

            anatomy = adapter_anatomy(Path(adapter))
            return anatomy, adapter_effect(base, adapter, effect_text(example), scale,
                                           progress=progress, cancel=cancel)

        def done(result: object) -> None:
            self._effect_job = None
            self.anatomy, self.effect = result  # type: ignore[misc]
            self._panel.show_anatomy(self.anatomy)
            self._panel.show_effect(self.effect)
            self._panel.show_progress(100, f"Perplexity of the held-out example: "
                                      f"{self.effect.perplexity_base:.2f} without the adapter, "
                                      f"{self.effect.perplexity_adapter:.2f} with it.")

        def failed(message: str) -> None:
            self._effect_job = None
            self._show_error(message)

        def cancelled() -> None:
            self._effect_job = None

        if self._effect_job is not None:
            self.lab.cancel(self._effect_job)
        self._effect_job = self.lab.call(job, done, failed, self._on_lab_progress, cancelled)

    def use_in_chat(self, scale: float) -> None:
        if self.run_adapter is None or self._use_adapter is None:
            return
        self.in_chat = self.run_adapter
        self._use_adapter(self.run_base, self.run_adapter, scale)
        self._panel.show_progress(100, f"The chat model is loading with adapter "
                                  f"{self.run_name} at scale {scale:g}.")

    def _on_scale(self, scale: float) -> None:
        if self.in_chat is not None and self.in_chat == self.run_adapter and \
                self._set_scale is not None:
            self._set_scale(self.in_chat, scale)
