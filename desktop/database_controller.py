"""The database's health in the window: the check at start, "Check database…", and restoring or
recovering a damaged database, all on a worker thread (never the GUI thread).

At start the check (PRAGMA quick_check, schema version) runs before any other worker opens the
database: only when it passes does the window start them (`on_ready`), and the day's backup
follows on this thread. A damaged database gets the banner and the Check database dialog
instead, with Restore and Recover; once one of them has worked, the window starts as usual. A
database from a newer Glassbox is refused: the window stays empty rather than touch it.

While the window's workers have the database open it cannot be swapped, so Restore and Recover
from "Check database…" are done at the next start (core.store.repair.schedule_repair).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from core.doctor import DoctorReport, check_everything
from core.store.backup import BackupOutcome, backup_if_due
from core.store.health import DatabaseHealth, check_database
from core.store.repair import (
    RepairResult,
    recover_database,
    restore_backup,
    run_scheduled_repair,
    schedule_repair,
)
from desktop.learn_lab_worker import LabHandle, LabProgress
from ui.database_dialog import DatabaseDialog
from ui.error_banner_view import ErrorBannerView

log = logging.getLogger(__name__)

CHECK_ACTION = "Check database…"


@dataclass(frozen=True)
class StartCheck:
    """What the check at start found, and what a repair scheduled for this start did."""

    health: DatabaseHealth
    repaired: RepairResult | None = None
    repair_error: str | None = None


class DatabaseController(QObject):
    """Owns the database worker thread and the Check database dialog."""

    def __init__(self, db_path: Path, show_error: Callable[[str], None],
                 parent_widget: QWidget, banner: ErrorBannerView | None = None) -> None:
        super().__init__(parent_widget)
        self._db_path = db_path
        self._show_error = show_error
        self._banner = banner
        if banner is not None:
            banner.action_triggered.connect(self._on_banner_action)
        self._parent_widget = parent_widget
        self._jobs = LabHandle("glassbox-database", self._on_job_error, self)
        self.worker_thread = self._jobs.worker_thread
        self._dialog: DatabaseDialog | None = None
        self._on_ready: Callable[[], None] | None = None
        self.ready = False  # the window's workers were started: the database is in use
        self.last_start_check: StartCheck | None = None

    @property
    def dialog(self) -> DatabaseDialog:
        if self._dialog is None:
            self._dialog = DatabaseDialog(self._parent_widget)
            self._dialog.restore_requested.connect(self._on_restore)
            self._dialog.recover_requested.connect(self._on_recover)
            self._dialog.recheck_requested.connect(self.open_dialog)
        return self._dialog

    @property
    def busy(self) -> bool:
        return self._jobs.busy

    def start(self, on_ready: Callable[[], None]) -> None:
        """Check the database; call `on_ready` (on the GUI thread) once it can be opened."""
        self._on_ready = on_ready
        self._jobs.start()
        self._jobs.call(_start_job(self._db_path), self._on_start_checked)

    def open_dialog(self, outcome: str | None = None, ok: bool = True) -> None:
        """Check database…: run every check on the worker and show the result (and, after a
        repair, what it did)."""
        dialog = self.dialog
        dialog.set_deferred(self.ready)
        dialog.show_checking()
        dialog.show()
        dialog.raise_()

        def show(report: object) -> None:
            assert isinstance(report, DoctorReport)
            dialog.show_report(report)
            if outcome:
                dialog.show_outcome(outcome, ok)
            if report.database.ok and self._on_ready is not None:
                self._become_ready()  # "Check again" after the file was set right elsewhere

        self._jobs.call(lambda _c, _p: check_everything(), show, self._on_repair_error)

    def stop(self) -> None:
        self._jobs.stop()
        self.close_dialog()

    def close_dialog(self) -> None:
        if self._dialog is not None:
            self._dialog.close()

    # -- at start ---------------------------------------------------------------------------
    def _on_start_checked(self, result: object) -> None:
        assert isinstance(result, StartCheck)
        self.last_start_check = result
        failed = (f"The repair asked for at this start did not happen: {result.repair_error}"
                  if result.repair_error else None)
        if result.health.ok:
            self._become_ready()
            if failed:
                self._show_error(failed)
            elif result.repaired is not None:
                self.open_dialog(result.repaired.message)
            return
        advice = (" Restore a backup or recover what can be read: see Check database."
                  if result.health.repairable else "")
        if self._banner is not None:  # the dialog may be closed; the banner opens it again
            log.info("shown to the user: %s", result.health.message)
            self._banner.show_message(result.health.message + advice, action=CHECK_ACTION)
        else:
            self._show_error(result.health.message + advice)
        self.open_dialog(failed, ok=False)

    def _on_banner_action(self, action: str) -> None:
        if action == CHECK_ACTION:
            self.open_dialog()

    def _become_ready(self) -> None:
        if self.ready:
            return
        self.ready = True
        if self._dialog is not None:
            self._dialog.set_deferred(True)
        if self._on_ready is not None:
            self._on_ready()
        self._jobs.call(lambda _c, _p: backup_if_due(self._db_path), self._on_backup)

    def _on_backup(self, outcome: object) -> None:
        assert isinstance(outcome, BackupOutcome)
        if outcome.warning:
            self._show_error(outcome.warning)

    # -- the ways back ----------------------------------------------------------------------
    def _on_restore(self, backup: str) -> None:
        self._repair("restore", backup)

    def _on_recover(self) -> None:
        self._repair("recover", None)

    def _repair(self, action: str, backup: str | None) -> None:
        dialog = self.dialog
        db = self._db_path
        if self.ready:
            schedule_repair(db, action, backup)
            what = "restore the backup" if action == "restore" else "recover the database"
            dialog.show_outcome(f"Glassbox will {what} the next time it starts. Quit Glassbox "
                                "and open it again.", ok=True)
            return
        dialog.show_checking("Restoring the backup…" if action == "restore"
                             else "Recovering what can be read…")

        def job(_cancel: threading.Event, _progress: LabProgress) -> tuple[RepairResult,
                                                                          DatabaseHealth]:
            result = (restore_backup(db, backup) if action == "restore"
                      else recover_database(db))
            return result, check_database(db)

        self._jobs.call(job, self._on_repaired, self._on_repair_error)

    def _on_repaired(self, outcome: object) -> None:
        assert isinstance(outcome, tuple)
        result, health = outcome
        assert isinstance(result, RepairResult) and isinstance(health, DatabaseHealth)
        if health.ok:
            self._become_ready()
        self.open_dialog(result.message, ok=health.ok)  # the report as it is now

    def _on_repair_error(self, message: str) -> None:
        self.dialog.show_outcome(message, ok=False)

    def _on_job_error(self, message: str) -> None:
        self._show_error(message)


def _start_job(db: Path) -> Callable[[threading.Event, LabProgress], StartCheck]:
    def job(_cancel: threading.Event, _progress: LabProgress) -> StartCheck:
        from core.api import GlassboxError

        repaired, error = None, None
        try:
            repaired = run_scheduled_repair(db)
        except GlassboxError as exc:
            error = str(exc)
        return StartCheck(check_database(db), repaired, error)

    return job

