"""The progress of an indexing run: a bar of files, counts, time left, the file, Cancel."""

from __future__ import annotations

from pathlib import PurePath

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.theme import mark_secondary


def format_eta(seconds: float | None) -> str:
    """A rough, human time left: estimates jitter, so more precision would only flicker."""
    if seconds is None:
        return ""
    if seconds < 10:
        return "a few seconds left"
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left"


def format_counts(files_done: int, files_total: int, passages: int,
                  eta_s: float | None) -> str:
    parts = [f"{files_done:,} / {files_total:,} files", f"{passages:,} passages"]
    eta = format_eta(eta_s) if files_done < files_total else ""
    if eta:
        parts.append(eta)
    return " · ".join(parts)


class IndexProgressView(QFrame):
    """Shown while a collection is indexed, then the run's outcome until the next one."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(textFormat=Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(12)
        self.counts = QLabel(textFormat=Qt.TextFormat.PlainText)
        self.current = QLabel(textFormat=Qt.TextFormat.PlainText)
        mark_secondary(self.current)  # quieter, still AA
        self.current.setMinimumWidth(40)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing (Esc). Finished files are kept; Re-index "
                                      "goes on from there.")
        top = QHBoxLayout()
        top.setSpacing(12)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.counts)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.current)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.running = False
        self.hide()

    def begin(self, collection: str) -> None:
        self.running = True
        self.title.setText(f"Indexing “{collection}”")
        self.bar.setRange(0, 0)  # busy until the files are counted
        self.bar.show()
        self.counts.setText("Looking for files…")
        self.current.setText("")
        self.current.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.show()

    def update_progress(self, files_done: int, files_total: int, passages: int,
                        eta_s: float | None, path: str | None) -> None:
        self.bar.setRange(0, max(files_total, 1))
        self.bar.setValue(files_done if files_total else 1)
        self.counts.setText(format_counts(files_done, files_total, passages, eta_s))
        if path:
            self._set_current(path)

    def cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.counts.setText("Stopping after this step…")

    def end(self, collection: str, indexed: int, skipped: int, failed: int, passages: int,
            cancelled: bool, elapsed_s: float) -> None:
        self.running = False
        self.bar.hide()
        self.cancel_button.hide()
        verb = "Stopped indexing" if cancelled else "Indexed"
        self.title.setText(f"{verb} “{collection}”")
        parts = [f"{indexed:,} new or changed"]
        if skipped:
            parts.append(f"{skipped:,} unchanged")
        if failed:
            parts.append(f"{failed:,} failed")
        parts.append(f"{passages:,} passages in {elapsed_s:.0f} s")
        self.counts.setText(" · ".join(parts))
        self.current.setText("Re-index to go on where it stopped." if cancelled else "")
        self.current.setVisible(cancelled)

    def _set_current(self, path: str) -> None:
        name = PurePath(path).name
        elided = self.current.fontMetrics().elidedText(
            name, Qt.TextElideMode.ElideMiddle, max(self.current.width(), 200))
        self.current.setText(elided)
        self.current.setToolTip(path)
