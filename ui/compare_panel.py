"""The Compare tab: one prompt, 2-4 variants side by side, saved comparisons on the left."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFontMetrics, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui.compare_column_view import CompareColumnView
from ui.theme import mark_secondary

MAX_COLUMNS = 4
_ID_ROLE = Qt.ItemDataRole.UserRole
# A useful first comparison: the plain prompt, hotter, with few-shot examples, step by step.
# Any first n of them differ (two variants are not the same set-up twice); labels are left to
# follow each column's preset and temperature.
_STARTING_SPECS = [(None, 0.7), (None, 1.3), ("Sentiment labels", 0.7), ("Step by step", 0.7)]
# A review: the few-shot column labels it, the plain ones answer it, hot and less hot.
EXAMPLE = "The battery lasts two days, but the camera is blurry in the dark."
EMPTY_TEXT = ("Type a prompt above, or Try an example: each variant answers it in turn, side "
              "by side, and the run is saved on the left.")


class ComparePanel(QWidget):
    """Emits what the user asks for; the controller runs it and feeds the columns."""

    run_requested = Signal(str, list, str)  # prompt, column specs, "name=value" variables
    stop_requested = Signal()
    open_requested = Signal(int)  # a saved comparison's id
    delete_requested = Signal(int)
    export_requested = Signal(int, str)  # comparison id, "md" | "json"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._running = False
        self._shown_id: int | None = None
        self.saved_list = QListWidget()
        self.saved_list.setToolTip("Saved comparisons: click one to see it again")
        self.saved_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.saved_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.export_md_button = QPushButton("Export Markdown…")
        self.export_json_button = QPushButton("Export JSON…")
        self.delete_button = QPushButton("Delete")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("The user prompt every variant answers…   "
                                       "(Ctrl+Enter runs)")
        line = QFontMetrics(self.prompt.font()).lineSpacing()
        self.prompt.setFixedHeight(line * 3 + 16)
        self.variables = QLineEdit(placeholderText="Preset variables, e.g. topic=attention; "
                                   "language=Go")
        self.column_count = QSpinBox(minimum=2, maximum=MAX_COLUMNS, value=3)
        self.column_count.setToolTip("How many variants to compare (2-4)")
        self.run_button = QPushButton("Compare")
        self.run_button.setToolTip("Run the prompt through every column (Ctrl+Enter)")
        self.stop_button = QPushButton("Stop")
        self.example_button = QPushButton("Try an example")
        self.hint_label = QLabel(EMPTY_TEXT, wordWrap=True)  # until the first run or opened one
        self.example_button.setToolTip(f"Compare the variants on “{EXAMPLE}”")
        self.state_label = QLabel()
        mark_secondary(self.state_label)  # quieter, still AA
        self.message_label = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.message_label.setStyleSheet("color: #c0281e;")
        self.message_label.hide()
        self.columns = [CompareColumnView(n + 1) for n in range(MAX_COLUMNS)]
        for column, (preset, temperature) in zip(self.columns, _STARTING_SPECS, strict=True):
            column.set_spec(None, preset, temperature)
        self._build_layout()
        self._connect()
        self._update()

    def _build_layout(self) -> None:
        left = QWidget()
        side = QVBoxLayout(left)
        side.setContentsMargins(6, 6, 0, 6)
        side.addWidget(QLabel("Saved comparisons"))
        side.addWidget(self.saved_list, 1)
        for button in (self.export_md_button, self.export_json_button, self.delete_button):
            side.addWidget(button)
        top = QHBoxLayout()
        top.addWidget(self.variables, 1)
        top.addWidget(QLabel("Variants"))
        top.addWidget(self.column_count)
        top.addWidget(self.state_label)
        top.addWidget(self.stop_button)
        top.addWidget(self.example_button)
        top.addWidget(self.run_button)
        row = QHBoxLayout()
        row.setSpacing(6)
        for column in self.columns:
            row.addWidget(column, 1)
        right = QWidget()
        main = QVBoxLayout(right)
        main.setContentsMargins(6, 6, 6, 6)
        main.addWidget(self.prompt)
        main.addLayout(top)
        main.addWidget(self.hint_label)
        main.addWidget(self.message_label)
        main.addLayout(row, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 900])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def _connect(self) -> None:
        self.run_action = QAction("Compare", self)
        self.run_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.run_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.run_action)
        self.run_action.triggered.connect(self.submit)
        self.run_button.clicked.connect(self.submit)
        self.example_button.clicked.connect(self.try_example)
        self.stop_button.clicked.connect(self.stop_requested)
        self.column_count.valueChanged.connect(lambda _n: self._update())
        self.saved_list.currentItemChanged.connect(lambda *_: self._update())
        self.saved_list.itemClicked.connect(
            lambda item: self.open_requested.emit(int(item.data(_ID_ROLE))))
        self.delete_button.clicked.connect(lambda: self._emit_for_selected(self.delete_requested))
        self.export_md_button.clicked.connect(
            lambda: self._emit_for_selected(self.export_requested, "md"))
        self.export_json_button.clicked.connect(
            lambda: self._emit_for_selected(self.export_requested, "json"))

    # -- what the controller calls ----------------------------------------------------------
    def set_presets(self, names: Sequence[str]) -> None:
        for column in self.columns:
            column.set_presets(names)

    def set_models(self, models: Sequence[tuple[str, str]]) -> None:
        for column in self.columns:
            column.set_models(models)

    def set_saved(self, comparisons: Sequence[tuple[int, str, float]]) -> None:
        """(id, title, created_at) of saved comparisons, newest first."""
        self.saved_list.clear()
        for comparison_id, title, created in comparisons:
            when = time.strftime("%d %b %H:%M", time.localtime(created))
            item = QListWidgetItem(f"{title}\n{when}")
            item.setData(_ID_ROLE, comparison_id)
            item.setToolTip(title)
            self.saved_list.addItem(item)
            if comparison_id == self._shown_id:
                self.saved_list.setCurrentItem(item)

    def show_message(self, text: str) -> None:
        """A problem with the last request, shown above the columns (empty: hide it)."""
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def begin_run(self) -> None:
        self.show_message("")
        self._running = True
        self._shown_id = None
        for column in self.visible_columns():
            column.clear_output()
        self.state_label.setText("Running…")
        self.hint_label.hide()
        self._update()

    def end_run(self, comparison_id: int | None, message: str = "Done") -> None:
        self._running = False
        self._shown_id = comparison_id
        self.state_label.setText(message)
        self._update()

    def show_comparison(self, comparison_id: int, prompt: str,
                        results: Sequence[dict[str, Any]]) -> None:
        """A saved comparison: its prompt and, per column, spec, output and figures."""
        self._shown_id = comparison_id
        self.prompt.setPlainText(prompt)
        self.column_count.setValue(len(results))
        for column, result in zip(self.columns, results, strict=False):
            column.set_spec(result["label"], result.get("preset"), result["temperature"],
                            result.get("model_path"))
            column.clear_output(waiting=False)
            column.set_output(result["output"])
            column.show_stats(result.get("stats"), result["status"])
        self.state_label.setText("Saved comparison")
        self.hint_label.hide()
        self._update()

    @property
    def running(self) -> bool:
        return self._running

    def visible_columns(self) -> list[CompareColumnView]:
        return self.columns[:self.column_count.value()]

    # -- user actions -----------------------------------------------------------------------
    def submit(self) -> None:
        if self._running:
            return
        self.run_requested.emit(self.prompt.toPlainText(),
                                [c.spec() for c in self.visible_columns()], self.variables.text())

    def set_prompt(self, text: str) -> None:
        self.prompt.setPlainText(text)

    def try_example(self) -> None:
        self.set_prompt(EXAMPLE)
        self.submit()

    def _emit_for_selected(self, signal: Any, *extra: str) -> None:
        item = self.saved_list.currentItem()
        if item is not None:
            signal.emit(int(item.data(_ID_ROLE)), *extra)

    def _update(self) -> None:
        count = self.column_count.value()
        for index, column in enumerate(self.columns):
            column.setVisible(index < count)
            column.set_editable(not self._running)
        self.run_button.setEnabled(not self._running)
        self.example_button.setEnabled(not self._running)
        self.stop_button.setVisible(self._running)
        self.column_count.setEnabled(not self._running)
        selected = self.saved_list.currentItem() is not None
        for button in (self.export_md_button, self.export_json_button, self.delete_button):
            button.setEnabled(selected and not self._running)
