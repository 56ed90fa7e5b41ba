"""The progress of an indexing run: a bar of files, counts, time left, the file, Cancel.

The same strip shows a summary run (the chat model writing a few sentences a document), which
follows indexing in the background and is stopped the same way.
"""

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


def format_summary_counts(done: int, total: int, eta_s: float | None) -> str:
    """"Summarizing 3 of 12 documents…": the one being written now, counted from 1."""
    parts = [f"Summarizing {min(done + 1, total):,} of {total:,} "
             f"{'document' if total == 1 else 'documents'}…"]
    eta = format_eta(eta_s) if done < total else ""
    if eta:
        parts.append(eta)
    return " · ".join(parts)


_INDEX_CANCEL_TIP = ("Stop indexing (Esc). Finished files are kept; Re-index goes on from "
                     "there.")
_SUMMARY_CANCEL_TIP = ("Stop writing summaries (Esc). The summaries written so far are kept; "
                       "Summarize goes on from there.")


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
        self.cancel_button.setToolTip(_INDEX_CANCEL_TIP)
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
        self._start(f"Indexing “{collection}”", "Looking for files…", _INDEX_CANCEL_TIP)

    def begin_summaries(self, collection: str) -> None:
        self._start(f"Writing summaries for “{collection}”", "Loading the chat model…",
                    _SUMMARY_CANCEL_TIP)

    def _start(self, title: str, counts: str, cancel_tip: str) -> None:
        self.running = True
        self.title.setText(title)
        self.bar.setRange(0, 0)  # busy until the work is counted
        self.bar.show()
        self.counts.setText(counts)
        self.current.setText("")
        self.current.show()
        self.cancel_button.setToolTip(cancel_tip)
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.show()

    def update_summaries(self, done: int, total: int, eta_s: float | None,
                         path: str | None) -> None:
        if not self.cancel_button.isEnabled():
            return  # "Stopping…" stays until the run ends
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done if total else 1)
        self.counts.setText(format_summary_counts(done, total, eta_s))
        if path:  # the document just done: the events name no other
            self._set_current(path, "Last summarized: ")

    def end_summaries(self, collection: str, summarized: int, failed: int, total: int,
                      cancelled: bool, error: bool, elapsed_s: float) -> None:
        self.running = False
        self.bar.hide()
        self.cancel_button.hide()
        if error:
            verb = "Could not write summaries for"
        elif cancelled:
            verb = "Stopped writing summaries for"
        elif total == 0:
            verb = "Summaries of"
        else:
            verb = "Wrote summaries for"
        self.title.setText(f"{verb} “{collection}”")
        if error and total == 0:
            self.counts.setText("")  # the message above says why
        elif total == 0 and not cancelled:
            self.counts.setText("Every indexed document has a summary")
        else:
            parts = [f"{summarized:,} of {total:,} summarized"]
            if failed:
                parts.append(f"{failed:,} failed")
            parts.append(f"in {elapsed_s:.0f} s")
            self.counts.setText(" · ".join(parts))
        note = "Summarize goes on where it stopped." if cancelled and not error else ""
        self.current.setText(note)
        self.current.setToolTip("")
        self.current.setVisible(bool(note))
        self.show()  # a run with nothing to write ends without having begun

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

    def _set_current(self, path: str, prefix: str = "") -> None:
        name = PurePath(path).name
        metrics = self.current.fontMetrics()
        elided = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle,
                                    max(self.current.width() - metrics.horizontalAdvance(prefix),
                                        200))
        self.current.setText(prefix + elided)
        self.current.setToolTip(path)
