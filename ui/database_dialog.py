"""Check database: what `glassbox doctor` found, the backups with their sizes, and the two ways
back from a damaged database (restore a backup, recover what can still be read)."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, QEvent, QLocale, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.doctor import DoctorReport
from ui.inline_confirm_view import InlineConfirmView
from ui.theme import readable

_PATH_ROLE = Qt.ItemDataRole.UserRole
_MARKS = {"ok": "✓", "warning": "!", "problem": "✗"}
_COLORS = {"ok": QColor("#2e9d4f"), "warning": QColor("#c88a04"), "problem": QColor("#d9382c")}
_HEADLINES = {
    "ok": "The database is whole",
    "new": "There is no database yet",
    "damaged": "The database is damaged",
    "newer": "The database is from a newer Glassbox",
    "foreign": "The database belongs to another program",
    "busy": "The database is busy",
    "unreadable": "The database cannot be read",
}


class DatabaseDialog(QDialog):
    """Shows a DoctorReport; restoring, recovering and checking again are asked for by signal.

    `set_deferred(True)` while the app has the database open: the repairs then happen at the
    next start, and the buttons say so."""

    restore_requested = Signal(str)  # the backup's path
    recover_requested = Signal()
    recheck_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._levels: dict[QLabel, str | None] = {}  # coloured labels, for a palette change
        self.setWindowTitle("Check database")
        self.setObjectName("databaseDialog")
        self.resize(760, 560)
        self._report: DoctorReport | None = None
        self._deferred = False
        self._busy = False
        self.headline = QLabel()
        font = QFont(self.headline.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.headline.setFont(font)
        self.message = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.findings = _table(["", "Area", "Found"])
        self.findings.setWordWrap(True)
        self.backups = _table(["Made", "Why", "Size", "File"])
        self.backups.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.no_backups = QLabel("No backups yet. Glassbox makes one when it starts (at most "
                                 "once a day) and before every update of the database.",
                                 wordWrap=True)
        self.outcome = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.hide()
        self.confirm = InlineConfirmView("Yes, go ahead")
        self.recheck_button = QPushButton("Check again")
        self.recover_button = QPushButton()
        self.recover_button.setToolTip("Copy every row that can still be read into a new "
                                       "database; the damaged file is kept aside")
        self.restore_button = QPushButton()
        self.restore_button.setToolTip("Put the selected backup in place of the database; the "
                                       "current file is kept aside")
        self.close_button = QPushButton("Close")
        self._build_layout()
        self.recheck_button.clicked.connect(self.recheck_requested)
        self.restore_button.clicked.connect(self._ask_restore)
        self.recover_button.clicked.connect(self._ask_recover)
        self.close_button.clicked.connect(self.close)
        self.confirm.confirmed.connect(self._on_confirmed)
        self.backups.itemSelectionChanged.connect(self._update_buttons)
        self.set_deferred(False)
        self.show_checking()

    def _build_layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.headline)
        layout.addWidget(self.message)
        layout.addWidget(_heading("What was checked"))
        layout.addWidget(self.findings, 3)
        layout.addWidget(_heading("Backups"))
        layout.addWidget(self.backups, 2)
        layout.addWidget(self.no_backups)
        layout.addWidget(self.outcome)
        layout.addWidget(self.confirm)
        buttons = QHBoxLayout()
        buttons.addWidget(self.recheck_button)
        buttons.addStretch(1)
        buttons.addWidget(self.recover_button)
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)

    # -- what the controller calls ----------------------------------------------------------
    def set_deferred(self, deferred: bool) -> None:
        """True: the app has the database open, so a repair is done at the next start."""
        self._deferred = deferred
        later = " at next start" if deferred else ""
        self.restore_button.setText(f"Restore selected backup{later}…")
        self.recover_button.setText(f"Recover what can be read{later}…")
        self._update_buttons()

    def show_checking(self, text: str = "Checking the database…") -> None:
        """A job is running: the buttons wait for it."""
        self._busy = True
        self.confirm.hide()
        self.outcome.setText(text)
        self._color(self.outcome, None)
        self.outcome.show()
        self._update_buttons()

    def show_report(self, report: DoctorReport) -> None:
        self._busy = False
        self._report = report
        health = report.database
        self.outcome.hide()
        self.headline.setText(f"{_MARKS['ok' if health.ok else 'problem']}  "
                              f"{_HEADLINES.get(health.state, health.state)}")
        self._color(self.headline, "ok" if health.ok and report.ok else
                    "problem" if not health.ok else "warning")
        self.message.setText(self._advice(report))
        self.findings.setRowCount(0)
        for finding in report.findings:
            self._add_row(self.findings, [_MARKS[finding.level], finding.area.capitalize(),
                                          finding.text], level=finding.level)
        self.findings.resizeRowsToContents()  # long findings wrap instead of being cut
        self.backups.setRowCount(0)
        for backup in report.backups:
            made = QDateTime.fromSecsSinceEpoch(int(backup.created_at))
            self._add_row(self.backups, [made.toString("yyyy-MM-dd  HH:mm"), backup.reason,
                                         _size(backup.size), backup.name], path=backup.path)
        self.backups.setVisible(bool(report.backups))
        self.no_backups.setVisible(not report.backups)
        if report.backups:
            self.backups.selectRow(0)
        self._update_buttons()

    def show_outcome(self, text: str, ok: bool) -> None:
        """The result of a restore or a recovery (or why it did not happen)."""
        self._busy = False
        self.outcome.setText(text)
        self._color(self.outcome, "ok" if ok else "problem")
        self.outcome.show()
        self._update_buttons()

    def selected_backup(self) -> str | None:
        rows = self.backups.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.backups.item(rows[0].row(), 0)
        return str(item.data(_PATH_ROLE)) if item is not None else None

    # -- internals --------------------------------------------------------------------------
    def _advice(self, report: DoctorReport) -> str:
        health = report.database
        if health.state == "damaged":
            later = (" Glassbox has the database open, so this happens the next time it "
                     "starts.") if self._deferred else ""
            return (f"{health.message}\n\nRestore a backup (the newest is selected), or "
                    "recover what can still be read into a new database. Either way the "
                    f"damaged file is kept aside, never deleted.{later}")
        if not health.ok:
            return health.message
        if report.problems:
            return f"{health.message} Other problems are listed below."
        return f"{health.message} Everything else looks fine too."

    def _update_buttons(self) -> None:
        state = self._report.database.state if self._report is not None else None
        self.recheck_button.setEnabled(not self._busy)
        self.restore_button.setEnabled(not self._busy and state in ("ok", "damaged")
                                       and self.selected_backup() is not None)
        self.recover_button.setEnabled(not self._busy and state == "damaged")

    def _ask_restore(self) -> None:
        path = self.selected_backup()
        if path is None:
            return
        name = path.rsplit("/", 1)[-1]
        when = "when Glassbox next starts" if self._deferred else "now"
        self.confirm.ask(f"restore:{path}", f"Restore {name} {when}? The current database "
                         "is kept aside; what was written after this backup is not in it.")

    def _ask_recover(self) -> None:
        when = "when Glassbox next starts" if self._deferred else "now"
        self.confirm.ask("recover", f"Recover what can be read {when}? Document collections "
                         "keep their files but need re-indexing; the damaged file is kept "
                         "aside.")

    def _on_confirmed(self, subject: str) -> None:
        if subject == "recover":
            self.recover_requested.emit()
        elif subject.startswith("restore:"):
            self.restore_requested.emit(subject.removeprefix("restore:"))

    def _add_row(self, table: QTableWidget, cells: list[str], level: str | None = None,
                 path: str | None = None) -> None:
        row = table.rowCount()
        table.insertRow(row)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if path is not None and column == 0:
                item.setData(_PATH_ROLE, path)
            if level is not None and column == 0:
                item.setForeground(readable(_COLORS[level],
                                            table.palette().color(QPalette.ColorRole.Base)))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            table.setItem(row, column, item)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # light <-> dark: readable again
            for label, level in list(self._levels.items()):
                self._color(label, level)

    def _color(self, label: QLabel, level: str | None) -> None:
        self._levels[label] = level
        palette = label.palette()
        window = self.palette().color(QPalette.ColorRole.Window)
        color = (readable(_COLORS[level], window) if level  # WCAG AA on this palette
                 else self.palette().color(QPalette.ColorRole.WindowText))
        palette.setColor(QPalette.ColorRole.WindowText, color)
        label.setPalette(palette)


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    for column in range(len(headers) - 1):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
    return table


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label


def _size(n: int) -> str:
    return QLocale().formattedDataSize(n, 1, QLocale.DataSizeFormat.DataSizeSIFormat)
