"""Downloads and imports in progress: one row each with a bar, speed, time left and buttons."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.models.metadata import format_bytes
from ui.index_progress_view import format_eta

RUNNING, PAUSED, FAILED, DONE, CANCELLED = "running", "paused", "failed", "done", "cancelled"


def format_transfer(done: int, total: int, speed_bps: float | None,
                    eta_s: float | None) -> str:
    parts = [f"{format_bytes(done)} of {format_bytes(total)}" if total
             else format_bytes(done)]
    if speed_bps:
        parts.append(f"{format_bytes(speed_bps)}/s")
    eta = format_eta(eta_s)
    if eta:
        parts.append(eta)
    return " · ".join(parts)


class DownloadRowView(QFrame):
    """One transfer. `pausable` rows (downloads) offer Pause/Resume; imports only Cancel."""

    def __init__(self, key: str, title: str, pausable: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.state = RUNNING
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title, textFormat=Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(10)
        self.detail = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setVisible(pausable)
        self.cancel_button = QPushButton("Cancel")
        self.dismiss_button = QToolButton()
        self.dismiss_button.setText("✕")
        self.dismiss_button.setToolTip("Remove this row")
        self.dismiss_button.setAutoRaise(True)
        self.dismiss_button.hide()
        self._pausable = pausable
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.pause_button)
        top.addWidget(self.cancel_button)
        top.addWidget(self.dismiss_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 4, 8, 4)
        column.setSpacing(2)
        column.addLayout(top)
        column.addWidget(self.bar)
        column.addWidget(self.detail)

    def update_progress(self, done: int, total: int, text: str) -> None:
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * done / total) if total else 0)
        self.detail.setText(text)

    def set_state(self, state: str, message: str = "") -> None:
        self.state = state
        active = state in (RUNNING, PAUSED)
        self.pause_button.setText({PAUSED: "Resume", FAILED: "Retry"}.get(state, "Pause"))
        self.pause_button.setVisible(self._pausable and (active or state == FAILED))
        self.pause_button.setEnabled(True)
        self.cancel_button.setVisible(active)
        self.dismiss_button.setVisible(not active)
        if state == DONE:
            self.bar.setRange(0, 1)
            self.bar.setValue(1)
        if message:
            self.detail.setText(message)


class DownloadListView(QWidget):
    pause_requested = Signal(str)  # key
    resume_requested = Signal(str)
    cancel_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: dict[str, DownloadRowView] = {}
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(4)
        self.hide()

    def row(self, key: str, title: str, pausable: bool = True) -> DownloadRowView:
        """The row for `key`, made (or made active again) as needed."""
        row = self.rows.get(key)
        if row is None:
            row = DownloadRowView(key, title, pausable)
            row.pause_button.clicked.connect(lambda _=False, r=row: self._on_pause(r))
            row.cancel_button.clicked.connect(
                lambda _=False, r=row: self.cancel_requested.emit(r.key))
            row.dismiss_button.clicked.connect(lambda _=False, r=row: self.remove(r.key))
            self.rows[key] = row
            self._column.addWidget(row)
        self.show()
        return row

    def remove(self, key: str) -> None:
        row = self.rows.pop(key, None)
        if row is not None:
            row.deleteLater()
        self.setVisible(bool(self.rows))

    def _on_pause(self, row: DownloadRowView) -> None:
        if row.state in (PAUSED, FAILED):
            self.resume_requested.emit(row.key)
        else:
            row.pause_button.setEnabled(False)  # until the worker says it stopped
            row.detail.setText("Pausing…")
            self.pause_requested.emit(row.key)
