"""The Models tab's Remote engines page and the remote models in the chat's model list.

Saving, removing, testing and listing a server's models are network or database calls, so
they run on a thread of their own ("glassbox-engines"): a server that does not answer never
stalls the window or the chat model's thread. Replies themselves run on the engine thread
(desktop/remote_switch.py); this thread only talks to servers to describe them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop.job_thread import JobContext, JobThread
from desktop.remote_switch import remote_path
from ui.engines_view import EnginesView

if TYPE_CHECKING:
    from core.api import CheckStep, EngineConfig

log = logging.getLogger(__name__)

# Listing a server's models for the picker: an address that does not answer gives up soon
# (the saved model is listed anyway), so the list never waits long on one dead machine.
_LIST_CONNECT_S = 3.0


def list_models(db_path: Path) -> list[tuple[str, str]]:
    """(label, "remote:NAME/MODEL") for every saved engine's models: those the server lists,
    or the saved model alone when it does not answer (choosing it then says why)."""
    from core.api import EngineRegistry, GlassboxError

    registry = EngineRegistry(db_path)
    found: list[tuple[str, str]] = []
    for config in registry.list():
        names: list[str] = [config.model] if config.model else []
        try:
            engine = registry.engine(config.name, connect_timeout_s=_LIST_CONNECT_S)
            try:
                engine.start()
                names = engine.models() or names
            finally:
                engine.close()
        except GlassboxError as exc:
            log.info("engine %s: models not listed: %s", config.name, exc)
        for model in names:
            path = remote_path(config.name, model)
            found.append((path, path))
    return found


class EnginesController(QObject):
    remote_models = Signal(list)  # [(label, path)] for the chat's model picker

    def __init__(self, view: EnginesView, db_path: Path, show_error: Callable[[str], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._db_path = db_path
        self._show_error = show_error
        self.jobs = JobThread("glassbox-engines", self)
        self._select: str | None = None  # the engine just added, selected once listed
        view.add_requested.connect(self.add)
        view.remove_requested.connect(self.remove)
        view.test_requested.connect(self.test)

    def start(self) -> None:
        from core.api import keyring_works

        self.jobs.start()
        self.jobs.call(lambda _ctx: keyring_works(), self._view.set_keyring_works)
        self.refresh()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def _registry(self) -> Any:
        from core.api import EngineRegistry

        return EngineRegistry(self._db_path)

    def refresh(self) -> None:
        """List the saved engines, then (slower: it asks each server) their models."""
        self.jobs.call(lambda _ctx: self._registry().list(), self._on_listed, self._on_error)
        self.jobs.call(lambda _ctx: list_models(self._db_path), self.remote_models.emit,
                       self._on_error)

    def add(self, fields: dict[str, Any]) -> None:
        def job(_ctx: JobContext) -> EngineConfig:
            return self._registry().add(**fields)  # type: ignore[no-any-return]

        self.jobs.call(job, self._on_added, self._on_error)

    def remove(self, name: str) -> None:
        self.jobs.call(lambda _ctx: self._registry().remove(name), lambda _c: self.refresh(),
                       self._on_error)

    def test(self, name: str) -> None:
        from core.api import check_engine

        self._view.set_testing(name)
        self.jobs.call(lambda _ctx: check_engine(self._registry().engine(name)),
                       lambda steps: self._on_tested(name, steps), self._on_test_failed)

    def _on_listed(self, engines: list[EngineConfig]) -> None:
        self._view.set_engines(engines)
        if self._select is not None:
            self._view.select(self._select)
            self._select = None

    def _on_added(self, config: EngineConfig) -> None:
        self._view.added()
        self._select = config.name
        self.refresh()

    def _on_tested(self, name: str, steps: list[CheckStep]) -> None:
        self._view.show_steps(name, steps)

    def _on_test_failed(self, exc: BaseException) -> None:
        self._view.show_failed(str(exc))

    def _on_error(self, exc: BaseException) -> None:
        self._show_error(str(exc))
