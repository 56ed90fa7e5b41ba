"""Connects Learn › Boundary playground to its training thread.

The network lives on one worker thread (a LabHandle job thread): every job that touches it
runs there, in order, so the GUI thread never trains nor waits. Play is one long job that
drives the core iterator (`BoundaryTrainer.run`) at a steady pace and sends a frame of the
steps since the last one, with the boundary grid, about ten times a second (queued signals);
Pause cancels that job, which ends after the step it is in. Step and Reset are short jobs.
A new network is made the first time the panel is shown, not when the window starts (that
is when torch is imported, on the worker thread).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from core.foundations.boundary_types import TrainingStopped, TrainStep
from desktop.learn_lab_worker import LabHandle, LabProgress
from ui.learn.boundary_panel import BoundaryPanel

if TYPE_CHECKING:
    from core.foundations.boundary import BoundaryTrainer
    from core.foundations.datasets2d import Dataset2D

# Fast enough that two moons separate in a few seconds, slow enough to watch it happen.
STEPS_PER_SECOND = 100
FRAMES_PER_SECOND = 10  # boundary redraws while playing: smooth, and cheap for the GUI thread
_GRID_EVERY = STEPS_PER_SECOND // FRAMES_PER_SECOND
_FOREVER = 10**9


class BoundaryController(QObject):
    def __init__(self, panel: BoundaryPanel, show_error: Callable[[str], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self.handle = LabHandle("glassbox-boundary", show_error, self)
        self.worker_thread = self.handle.worker_thread
        self._points: list[tuple[float, float, int]] = []
        # Only jobs (on the worker thread) read or replace the trainer.
        self._state: dict[str, BoundaryTrainer] = {}
        self._play_job: int | None = None
        self._generation = 0  # frames of a network that was replaced are not shown
        panel.first_shown.connect(self.reset)
        panel.reset_requested.connect(self.reset)
        panel.step_requested.connect(self.step)
        panel.play_requested.connect(self.play)
        panel.pause_requested.connect(self.pause)
        panel.point_added.connect(self._on_point_added)
        panel.settings.changed.connect(self.reset)
        panel.settings.clear_points_requested.connect(self._on_clear_points)

    def start(self) -> None:
        self.handle.start()

    def stop(self) -> None:
        self.handle.stop()

    @property
    def playing(self) -> bool:
        return self._play_job is not None

    # -- intents ----------------------------------------------------------------------------------
    def reset(self) -> None:
        """A fresh network on the points the settings name."""
        self.pause()
        self._generation += 1
        generation = self._generation
        view = self._panel.settings
        settings = view.settings()
        name, points, noise, seed = view.dataset(), view.points(), view.noise(), view.seed()
        mine = list(self._points) if view.user_points() else None
        state = self._state

        def job(cancel: threading.Event, progress: LabProgress) -> tuple[Dataset2D, TrainStep]:
            from core.foundations.boundary import BoundaryTrainer
            from core.foundations.datasets2d import from_points, make_dataset

            state.pop("trainer", None)
            data = (from_points(mine, seed) if mine is not None
                    else make_dataset(name, points, noise, seed))
            trainer = BoundaryTrainer(data, settings)
            state["trainer"] = trainer
            return data, trainer.evaluate(grid=True)

        def done(result: tuple[Dataset2D, TrainStep]) -> None:
            if generation != self._generation:
                return
            data, first = result
            self._panel.show_data(data.train_x, data.train_y, data.test_x, data.test_y,
                                  data.bounds)
            self._panel.show_steps([first])

        def failed(message: str) -> None:
            if generation != self._generation:
                return
            if mine is not None:
                self._panel.show_user_points(mine, message)
            else:
                self._panel.show_message(message)
                self._panel.set_trainable(False)

        self.handle.call(job, done, failed)

    def step(self) -> None:
        """One gradient step; the panel shows how far each layer's weights moved."""
        generation = self._generation
        state = self._state

        def job(cancel: threading.Event, progress: LabProgress) -> Any:
            trainer = state.get("trainer")
            return None if trainer is None else trainer.step(grid=True)

        def done(event: TrainStep | TrainingStopped | None) -> None:
            if isinstance(event, TrainingStopped):
                self._show(generation, [], event)
            elif event is not None:
                self._show(generation, [event], None)

        self.handle.call(job, done)

    def play(self) -> None:
        if self._play_job is not None:
            return
        generation = self._generation
        state = self._state
        self._panel.set_playing(True)

        def job(cancel: threading.Event, progress: LabProgress) -> Any:
            trainer = state.get("trainer")
            if trainer is None:
                return [], None
            send: Callable[..., None] = progress  # the frame rides as the third argument
            frame: list[TrainStep] = []
            began = time.monotonic()
            for i, event in enumerate(trainer.run(_FOREVER, cancel, grid_every=_GRID_EVERY)):
                if isinstance(event, TrainingStopped):  # the loss diverged
                    return frame, event
                frame.append(event)
                if event.grid is not None:
                    send(0, 0, frame)
                    frame = []
                # Wait on the token, not sleep: Pause takes effect at once.
                cancel.wait(max(0.0, began + (i + 1) / STEPS_PER_SECOND - time.monotonic()))
            return frame, None

        def frame(_done: int, _total: int, steps: Any) -> None:
            self._show(generation, steps, None)

        def done(result: tuple[list[TrainStep], TrainingStopped | None]) -> None:
            self._play_job = None
            self._panel.set_playing(False)
            steps, stopped = result
            self._show(generation, steps, stopped)

        def failed(message: str) -> None:
            self._play_job = None
            self._panel.set_playing(False)
            self._panel.show_message(message)

        self._play_job = self.handle.call(job, done, failed, frame, self._on_play_cancelled)

    def pause(self) -> None:
        if self._play_job is not None:
            self.handle.cancel(self._play_job)

    # -- results ----------------------------------------------------------------------------------
    def _show(self, generation: int, steps: list[TrainStep],
              stopped: TrainingStopped | None) -> None:
        if generation != self._generation:
            return  # a frame of a network that was replaced since
        if stopped is not None and stopped.state is not None:
            steps = [*steps, stopped.state]  # the step that blew up, on the curve
        self._panel.show_steps(steps)
        if stopped is not None:
            self._panel.show_stopped(stopped.message, stopped.loss)

    def _on_play_cancelled(self) -> None:
        self._play_job = None
        self._panel.set_playing(False)

    def _on_point_added(self, x: float, y: float, label: int) -> None:
        self._points.append((x, y, label))
        self.reset()

    def _on_clear_points(self) -> None:
        self._points = []
        self.reset()
