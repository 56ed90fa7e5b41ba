"""Connects the steering lab to its worker: build a direction, steer, save and load vectors.

The lab runs on its own engine child (loaded with the chat model's file) driven from a lab
JobThread, so a long build never queues behind the chat, its progress and Cancel are its own,
and the chat's engine is never steered by the lab's experiments. Cancel sets the job's Event;
the progress callback passes it on to the engine child, which stops between pairs or tokens.
Only "Use in chat" reaches the chat: the direction is saved as a llama.cpp control vector in
the data folder and the chat's engine applies it to every reply until "Stop steering".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from desktop.learn_lab_worker import LabHandle, LabProgress
from desktop.remote_switch import is_remote
from ui.learn.steering_panel import SteeringPanel

if TYPE_CHECKING:
    from core.api import EngineClient
    from core.engine.steering_types import SteeringDirection, SteeringRun

STARTERS = Path(__file__).resolve().parents[1] / "resources" / "steering"
_STARTER_NAMES = {"positive_negative": "Positive / negative (starter)",
                  "formal_casual": "Formal / casual (starter)",
                  "english_french": "English / French (starter)"}
REPLY_TOKENS = 30
_N_CTX = 1024
CHAT_VECTOR = "steering/chat.gguf"  # under the data folder: the vector the chat is steered by


class SteeringController(QObject):
    def __init__(self, panel: SteeringPanel, show_error: Callable[[str], None],
                 model_path_source: Callable[[], str | None],
                 parent: QObject | None = None,
                 steer_chat: Callable[[str | None, float], None] | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._steer_chat = steer_chat  # (vector file or None, strength) -> the chat's engine
        self._show_error = show_error
        self._model_path = model_path_source
        self._engine: EngineClient | None = None  # owned by the lab thread
        self.handle = LabHandle("glassbox-steering", show_error, self, close=self._close_engine)
        self.worker_thread = self.handle.worker_thread
        self.reply_tokens = REPLY_TOKENS
        self.direction: SteeringDirection | None = None
        self.run_result: SteeringRun | None = None
        self._job: int | None = None
        order = list(_STARTER_NAMES)  # positive/negative first: the clearest to see
        files = sorted(STARTERS.glob("*.jsonl"),
                       key=lambda p: (order.index(p.stem) if p.stem in order else 99, p.stem))
        panel.set_starters([(_STARTER_NAMES.get(p.stem, p.stem), str(p)) for p in files])
        panel.build_requested.connect(self.build)
        panel.cancel_requested.connect(self.cancel)
        panel.run_requested.connect(self.steer)
        panel.save_requested.connect(self.save)
        panel.load_requested.connect(self.load)
        panel.use_in_chat_requested.connect(self.use_in_chat)
        panel.stop_in_chat_requested.connect(self.stop_in_chat)

    def start(self) -> None:
        self.handle.start()

    def stop(self) -> None:
        self.handle.stop()

    @property
    def busy(self) -> bool:
        return self.handle.busy

    # -- on the lab thread ------------------------------------------------------------------
    def _engine_for(self, path: str) -> EngineClient:
        from core.api import EngineClient

        if self._engine is None:
            self._engine = EngineClient()
        model = self._engine.model
        if model is None or Path(model.path) != Path(path) or not self._engine.alive:
            self._engine.load(path, n_ctx=_N_CTX)
        return self._engine

    def _close_engine(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def _chat_model(self) -> str | None:
        path = self._model_path()
        if not path:
            self._show_error("Load a chat model first: the steering lab steers it.")
            return None
        if is_remote(path):
            self._show_error(f"Steering adds vectors inside the model, so it needs a local "
                             f"model ({path} runs on a server).")
            return None
        return path

    def _start(self, job: Callable[[threading.Event, LabProgress], Any],
               done: Callable[[Any], None], message: str) -> None:
        self._panel.set_busy(True, message)
        self._job = self.handle.call(job, done, self._on_failed, self._panel.show_progress,
                                     self._on_cancelled)

    # -- requests ---------------------------------------------------------------------------
    def build(self, pairs_file: str) -> None:
        path = self._chat_model()
        if path is None:
            return

        def job(cancel: threading.Event, progress: LabProgress) -> SteeringDirection:
            from core.cli_steer import read_pairs

            pairs = read_pairs(pairs_file)
            engine = self._engine_for(path)

            def step(done: int, total: int) -> None:
                if cancel.is_set():
                    engine.cancel()
                progress(done, total, f"Read pair {done} of {total}")

            return engine.build_steering(pairs, progress=step)

        self._source = Path(pairs_file).stem.replace("_", " / ")
        self._start(job, self._on_built, "Reading the pairs through the model…")

    def steer(self, prompt: str, first: int, last: int, strength: float) -> None:
        path, direction = self._chat_model(), self.direction
        if path is None or direction is None:
            return
        s = abs(strength) or 1.0
        strengths = (-s, -s / 2, 0.0, s / 2, s)
        tokens = self.reply_tokens

        def job(cancel: threading.Event, progress: LabProgress) -> SteeringRun:
            engine = self._engine_for(path)

            def step(done: int, total: int) -> None:
                if cancel.is_set():
                    engine.cancel()
                # The last step reads the replies' hidden states for the shading.
                progress(done, total, f"Reply {done} of {total - 1}" if done < total
                         else "Reading the replies' hidden states")

            return engine.steer(direction, prompt, (first, last), strengths, tokens, step)

        self._start(job, self._on_steered, "Steering…")

    def save(self, path: str, first: int, last: int) -> None:
        direction = self.direction
        if direction is None:
            return

        def job(_cancel: threading.Event, _progress: LabProgress) -> Path:
            from core.engine import control_vector

            return control_vector.save(direction, path, (first, last))

        self._start(job, self._on_saved, "Saving the control vector…")

    def load(self, file: str) -> None:
        path = self._chat_model()
        if path is None:
            return

        def job(_cancel: threading.Event, _progress: LabProgress) -> SteeringDirection:
            from core.engine import control_vector
            from core.gguf.reader import read_header

            meta = read_header(path).metadata
            arch = str(meta.get("general.architecture", "unknown"))
            shape = control_vector.ModelShape(arch, int(meta[f"{arch}.block_count"]),
                                              int(meta[f"{arch}.embedding_length"]),
                                              Path(path).stem)
            return control_vector.as_direction(control_vector.load(file), shape)

        self._source = Path(file).name
        self._start(job, self._on_built, "Reading the control vector…")

    def use_in_chat(self, first: int, last: int, strength: float) -> None:
        """Save the direction over `first`..`last` and steer the chat's replies with it."""
        direction, steer = self.direction, self._steer_chat
        if direction is None or steer is None:
            return
        from core.api import data_home

        target = data_home() / CHAT_VECTOR

        def job(_cancel: threading.Event, _progress: LabProgress) -> Path:
            from core.engine import control_vector

            target.parent.mkdir(parents=True, exist_ok=True)
            return control_vector.save(direction, target, (first, last))

        def done(path: object) -> None:
            self._job = None
            self._panel.set_busy(False, "Steering the chat: its next reply uses the vector.")
            steer(str(path), strength)

        self._start(job, done, "Saving the vector for the chat…")

    def stop_in_chat(self) -> None:
        if self._steer_chat is not None:
            self._steer_chat(None, 1.0)

    def on_model_loaded(self, info: object) -> None:
        """The chat's model (re)loaded or re-steered: show what steers it."""
        self._panel.show_chat_steering(getattr(info, "control_vector", None))

    def cancel(self) -> None:
        if self._job is not None:
            self.handle.cancel(self._job)

    # -- answers ----------------------------------------------------------------------------
    def _on_built(self, direction: object) -> None:
        from core.engine.steering import default_layers

        self._job = None
        self.direction = direction  # type: ignore[assignment]
        assert self.direction is not None
        layers = default_layers(self.direction.n_layer)
        if self.direction.n_pairs == 0:  # a loaded file: its own range
            steered = [s.layer for s in self.direction.separation if s.diff_norm > 0]
            layers = (max(1, steered[0]), steered[-1]) if steered else layers
        self._panel.show_direction(self.direction, layers, self._source)

    def _on_steered(self, run: object) -> None:
        self._job = None
        self.run_result = run  # type: ignore[assignment]
        self._panel.show_run(self.run_result)  # type: ignore[arg-type]

    def _on_saved(self, path: object) -> None:
        self._job = None
        self._panel.show_failed(f"Saved {path}: llama.cpp runs it with --control-vector.")

    def _on_failed(self, message: str) -> None:
        self._job = None
        self._panel.show_failed(message)
        self._show_error(message)

    def _on_cancelled(self) -> None:
        self._job = None
        self._panel.show_failed("Cancelled.")
