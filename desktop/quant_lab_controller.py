"""Connects the Quantization lab panel to its worker: quantize, compare, import, clear.

The quantizer and both model readings run in child processes (core.models.lab_child), driven
from the lab worker thread; Cancel kills the child. The copy stays in the lab folder until
the lab is cleared; "Add copy to model library" hands its path to the window
(`import_requested`), which imports it like a file the user chose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from core.models.quant_lab_types import DEFAULT_TEXT, DEFAULT_TYPE, QUANT_TYPES, summary_rows
from desktop.learn_lab_worker import LabHandle, LabProgress
from desktop.remote_switch import is_remote
from ui.learn.quant_lab_panel import QuantLabPanel

if TYPE_CHECKING:
    from core.models.quant_lab_types import QuantComparison, QuantizedCopy

# Share of the progress bar each step takes: quantizing is quick, reading twice is not.
_QUANTIZE_SHARE = 30


class QuantLabController(QObject):
    """`model_path_source()` gives the chat model's file, the default model to quantize;
    `model_name(path)` the name the rest of the window gives it (the library's), else the
    file's stem."""

    import_requested = Signal(str)  # path of a quantized copy to add to the model library

    def __init__(self, panel: QuantLabPanel, show_error: Callable[[str], None],
                 model_path_source: Callable[[], str | None],
                 parent: QObject | None = None, *,
                 model_name: Callable[[str], str] | None = None,
                 needs_local: Callable[[str], None] | None = None) -> None:
        """`needs_local(message)`: say the chat model is remote and offer a local one."""
        super().__init__(parent)
        self._panel = panel
        self._show_error = show_error
        self._needs_local = needs_local or show_error
        self._model_path = model_path_source
        self._model_name = model_name or (lambda path: Path(path).stem)
        self.handle = LabHandle("glassbox-quant-lab", show_error, self)
        self.worker_thread = self.handle.worker_thread
        self._job: int | None = None
        self.copy: QuantizedCopy | None = None
        self.result: QuantComparison | None = None
        panel.set_types(QUANT_TYPES, DEFAULT_TYPE)
        panel.set_text(DEFAULT_TEXT)
        panel.run_requested.connect(self.run)
        panel.cancel_requested.connect(self.cancel)
        panel.clear_requested.connect(self.clear)
        panel.import_requested.connect(self.import_requested)

    def start(self) -> None:
        self.handle.start()
        self.on_model_loaded()

    def on_model_loaded(self, *_: object) -> None:
        """Name the chat model in the panel (connect the engine's model_loaded here)."""
        if not self._panel.source():
            path = self._model_path()
            # The model's one name, as the picker and status bar give it, not its file's.
            self._panel.set_source("", f"{self._model_name(path)} (the chat model)" if path
                                   else "the chat model (none loaded)")

    def stop(self) -> None:
        self.handle.stop()

    @property
    def busy(self) -> bool:
        return self.handle.busy

    def run(self, source: str, quant_type: str, text: str) -> None:
        """Quantize `source` (or the chat model) to `quant_type`, then compare on `text`."""
        self.on_model_loaded()
        path = source or self._model_path()
        if not path:
            self._show_error("Load a chat model first, or choose “Other model…” to pick the "
                             "GGUF file to quantize.")
            return
        if is_remote(path):
            self._needs_local(f"The quantization lab rewrites the model file's weights, so it "
                              f"needs a local model ({path} runs on a server).")
            return
        if not text.strip():
            self._show_error("Type or paste a text for the two models to read.")
            return
        self._panel.set_busy(True, f"Quantizing {Path(path).name} to {quant_type}…")

        def job(cancel: threading.Event, progress: LabProgress) -> tuple[QuantizedCopy,
                                                                         QuantComparison]:
            from core.engine.quant_compare import compare_models
            from core.models.quantize import quantize_model

            def quantizing(done: int, total: int, what: str) -> None:
                progress(done * _QUANTIZE_SHARE // max(total, 1), 100, what)

            def comparing(done: int, total: int, what: str) -> None:
                rest = 100 - _QUANTIZE_SHARE
                progress(_QUANTIZE_SHARE + done * rest // max(total, 1), 100, what)

            copy = quantize_model(path, quant_type, progress=quantizing, cancel=cancel)
            return copy, compare_models(path, copy.path, text, progress=comparing,
                                        cancel=cancel)

        self._job = self.handle.call(job, self._on_done, self._on_failed, self._on_progress,
                                     self._on_cancelled)

    def cancel(self) -> None:
        if self._job is not None:
            self.handle.cancel(self._job)

    def clear(self) -> None:
        """Delete the lab's copies (after any run in progress stops)."""
        self.cancel()

        def job(_cancel: threading.Event, _progress: LabProgress) -> int:
            from core.models.quantize import clear_lab

            return clear_lab()

        self.handle.call(job, self._on_cleared)

    # -- answers ----------------------------------------------------------------------------
    def _on_progress(self, done: int, total: int, what: str) -> None:
        self._panel.show_progress(done * 100 // max(total, 1), what[:1].upper() + what[1:] + "…")

    def _on_done(self, result: object) -> None:
        self._job = None
        copy, comparison = result  # type: ignore[misc]
        self.copy, self.result = copy, comparison
        self._panel.show_copy(copy)
        self._panel.show_comparison(comparison, summary_rows(comparison))

    def _on_failed(self, message: str) -> None:
        self._job = None
        self._panel.show_failed()
        self._show_error(message)

    def _on_cancelled(self) -> None:
        self._job = None
        self._panel.show_cancelled()

    def _on_cleared(self, removed: object) -> None:
        self.copy = None
        self._panel.cleared(int(removed))  # type: ignore[call-overload]
