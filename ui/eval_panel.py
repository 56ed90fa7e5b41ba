"""The Evaluate tab: run an eval set against up to four models, read the matrix of means with
their intervals, drill into each item, and reopen or export saved runs."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.eval_item_view import EvalItemView
from ui.eval_results_view import EvalResultsView
from ui.theme import mark_secondary

MAX_SUBJECTS = 4
_DATA = Qt.ItemDataRole.UserRole
_OPEN_FILE = "__open_file__"
EMPTY_TEXT = ("Pick a set and up to four models, then Run: each model answers every item, and "
              "the matrix shows each metric's mean with its 95% interval. Saved runs are on "
              "the left.")


class EvalPanel(QWidget):
    """Emits what the user asks for; the controller runs it and feeds the views."""

    set_chosen = Signal(str)  # a set's path: the controller answers with set_set_info
    open_set_file_requested = Signal()
    add_file_requested = Signal()  # a model file (a quantized copy, say) as a subject
    run_requested = Signal(dict)  # {"set", "limit", "subjects": [(label, path)], "metrics", ...}
    stop_requested = Signal()
    resume_requested = Signal(int)
    open_requested = Signal(int)
    export_requested = Signal(int, str)  # run id, "csv" | "json"
    compare_requested = Signal(int, int)
    learn_requested = Signal(str, str)  # prompt, reply

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.running = False
        self.shown_run: int | None = None
        self._shown_status = ""
        self._models: list[tuple[str, str]] = []
        self._checks: dict[str, QCheckBox] = {}
        # -- the set ---------------------------------------------------------------------
        self.set_combo = QComboBox()
        self.set_combo.setToolTip("The starter sets that ship with Glassbox, or a .jsonl/.csv "
                                  "file of your own")
        self.set_combo.activated.connect(self._on_set_activated)
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(0, 10_000)
        self.limit_spin.setSpecialValueText("all")
        self.limit_spin.setPrefix("first ")
        self.limit_spin.setToolTip("Evaluate only the set's first N items (all: the whole "
                                   "set): a quick look before a full run")
        self.tokens_spin = QSpinBox()
        self.tokens_spin.setRange(1, 2048)
        self.tokens_spin.setValue(64)
        self.tokens_spin.setSuffix(" tokens")
        self.tokens_spin.setToolTip("The longest reply each model may give (greedy decoding)")
        self.set_info = QLabel()
        mark_secondary(self.set_info)
        # -- subjects --------------------------------------------------------------------
        self.subject_list = QListWidget()
        self.subject_list.setMaximumHeight(64)
        self.subject_list.setToolTip("The models that answer, up to four, one after another")
        self.add_button = QToolButton()
        self.add_button.setText("Add model…")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self.add_button)
        self.add_button.setMenu(self.add_menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._on_remove)
        # -- metrics ---------------------------------------------------------------------
        self.metrics_box = QWidget()
        self.metrics_grid = QGridLayout(self.metrics_box)
        self.metrics_grid.setContentsMargins(0, 0, 0, 0)
        self.metrics_grid.setHorizontalSpacing(12)
        self.metrics_grid.setVerticalSpacing(2)
        # -- run -------------------------------------------------------------------------
        self.run_button = QPushButton("Run")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.submit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_requested)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Finish the shown run: items already scored are kept")
        self.resume_button.clicked.connect(self._on_resume)
        self.progress = QProgressBar()
        self.progress.setFormat("")
        self.progress.setTextVisible(True)
        self.state_label = QLabel(EMPTY_TEXT)
        self.state_label.setWordWrap(True)
        mark_secondary(self.state_label)
        # -- saved runs ------------------------------------------------------------------
        self.saved_list = QListWidget()
        self.saved_list.setToolTip("Saved runs: click one to see it again")
        self.saved_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.saved_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.saved_list.itemClicked.connect(self._on_saved_clicked)
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_json_button = QPushButton("Export JSON…")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("Select two saved runs of the same set (Ctrl+click) to "
                                       "compare them item by item")
        self.saved_list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.saved_list.itemSelectionChanged.connect(self._update_buttons)
        self.export_csv_button.clicked.connect(lambda: self._export("csv"))
        self.export_json_button.clicked.connect(lambda: self._export("json"))
        self.compare_button.clicked.connect(self._on_compare)
        # -- results ---------------------------------------------------------------------
        self.results = EvalResultsView()
        self.items = EvalItemView()
        self.items.learn_requested.connect(self.learn_requested)
        self.result_tabs = QTabWidget()
        self.result_tabs.setDocumentMode(True)
        self.result_tabs.addTab(self.results, "Matrix")
        self.result_tabs.addTab(self.items, "Items")
        self._layout()
        self._update_buttons()

    def _layout(self) -> None:
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("Saved runs"))
        column.addWidget(self.saved_list, 1)
        for button in (self.export_csv_button, self.export_json_button, self.compare_button):
            column.addWidget(button)
        setup = QGridLayout()
        setup.setVerticalSpacing(4)
        set_row = QHBoxLayout()
        set_row.addWidget(self.set_combo, 1)
        set_row.addWidget(self.limit_spin)
        set_row.addWidget(self.tokens_spin)
        setup.addWidget(QLabel("Set"), 0, 0)
        setup.addLayout(set_row, 0, 1)
        setup.addWidget(self.set_info, 1, 1)
        subject_buttons = QVBoxLayout()
        subject_buttons.addWidget(self.add_button)
        subject_buttons.addWidget(self.remove_button)
        subject_buttons.addStretch(1)
        subject_row = QHBoxLayout()
        subject_row.addWidget(self.subject_list, 1)
        subject_row.addLayout(subject_buttons)
        setup.addWidget(QLabel("Models"), 2, 0, Qt.AlignmentFlag.AlignTop)
        setup.addLayout(subject_row, 2, 1)
        setup.addWidget(QLabel("Metrics"), 3, 0, Qt.AlignmentFlag.AlignTop)
        setup.addWidget(self.metrics_box, 3, 1)
        run_row = QHBoxLayout()
        for button in (self.run_button, self.stop_button, self.resume_button):
            run_row.addWidget(button)
        run_row.addWidget(self.progress, 1)
        setup.addLayout(run_row, 4, 1)
        setup.addWidget(self.state_label, 5, 1)
        right = QWidget()
        body = QVBoxLayout(right)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(setup)
        body.addWidget(self.result_tabs, 1)
        # Until a run is shown the results would be an empty table and chart: the setup and
        # its hint stand alone instead.
        self._filler = QWidget()
        body.addWidget(self._filler, 1)
        self.result_tabs.hide()
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([200, 880])
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    # -- fed by the controller ---------------------------------------------------------------
    def set_catalog(self, sets: list[dict[str, Any]], explanations: dict[str, str]) -> None:
        """The starter sets (name, path, size) and every metric with its explanation."""
        self.set_combo.clear()
        for s in sets:
            self.set_combo.addItem(f"{s['name']} ({s['size']} items)", s["path"])
        self.set_combo.addItem("Open set file…", _OPEN_FILE)
        for index, (name, text) in enumerate(explanations.items()):
            box = QCheckBox(name)
            box.setToolTip(text)
            box.setAccessibleDescription(text)
            box.toggled.connect(self._update_buttons)
            self._checks[name] = box
            self.metrics_grid.addWidget(box, index // 6, index % 6)
        if sets:
            self.set_set_info(sets[0])

    def add_set(self, info: dict[str, Any]) -> None:
        """A set file the user opened: listed before "Open set file…" and chosen."""
        at = max(self.set_combo.count() - 1, 0)
        self.set_combo.insertItem(at, f"{info['name']} ({info['size']} items)", info["path"])
        self.set_combo.setCurrentIndex(at)
        self.set_set_info(info)

    def set_set_info(self, info: dict[str, Any]) -> None:
        """Check the metrics the chosen set has gold answers for."""
        index = self.set_combo.findData(info["path"])
        if index >= 0:
            self.set_combo.setCurrentIndex(index)
        self.set_info.setText(f"{info['size']} items; metrics it supports are checked (hover "
                              "one for what it measures)")
        for name, box in self._checks.items():
            box.setChecked(name in info["metrics"])

    def set_models(self, models: list[tuple[str, str]]) -> None:
        """The models the user may add: (label, path); a model file can be added too."""
        self._models = list(models)
        self.add_menu.clear()
        for label, path in models:
            action = QAction(label, self.add_menu)
            action.triggered.connect(lambda _=False, a=label, p=path: self.add_subject(a, p))
            self.add_menu.addAction(action)
        self.add_menu.addSeparator()
        self.add_menu.addAction("Model file…", self.add_file_requested.emit)

    def add_subject(self, label: str, path: str) -> None:
        if self.subject_list.count() >= MAX_SUBJECTS:
            self.show_message(f"At most {MAX_SUBJECTS} models per run.")
            return
        if path in self.subject_paths():
            return
        item = QListWidgetItem(label)
        item.setData(_DATA, path)
        item.setToolTip(path)
        self.subject_list.addItem(item)
        self._update_buttons()

    def subject_paths(self) -> list[str]:
        return [str(self.subject_list.item(i).data(_DATA)) for i in range(
            self.subject_list.count())]

    def set_metrics(self, names: list[str]) -> None:
        for name, box in self._checks.items():
            box.setChecked(name in names)

    def chosen_metrics(self) -> list[str]:
        return [name for name, box in self._checks.items() if box.isChecked()]

    def set_saved(self, runs: list[tuple[int, str, str]]) -> None:
        """(id, title, status) of each saved run, newest first."""
        self.saved_list.clear()
        for run_id, title, status in runs:
            shown = "" if status == "complete" else f" · {status}"
            item = QListWidgetItem(f"{run_id}. {title}{shown}")
            item.setData(_DATA, run_id)
            item.setToolTip(f"{title} ({status})")
            self.saved_list.addItem(item)
            if run_id == self.shown_run:
                item.setSelected(True)
        self._update_buttons()

    def begin_run(self) -> None:
        self.running = True
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self.state_label.setText("Loading the set and the first model…")
        self._update_buttons()

    def show_progress(self, done: int, total: int, label: str) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"item {done} of {total} · {label}")

    def end_run(self, status: str) -> None:
        self.running = False
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if status == "complete" else 0)
        self.state_label.setText({"complete": "Run complete: saved.",
                                  "cancelled": "Stopped: Resume finishes it later.",
                                  "incomplete": "Some items or models failed: see Items."}
                                 .get(status, status))
        self._update_buttons()

    def show_run(self, overview: dict[str, Any]) -> None:
        self.shown_run = overview["id"]
        self._filler.hide()
        self.result_tabs.show()
        self.results.show_overview(overview)
        self.items.show_items(overview["subjects"], overview["items"])
        self._shown_status = overview["status"]
        self._update_buttons()

    def show_message(self, text: str) -> None:
        self.state_label.setText(text)

    # -- intents -----------------------------------------------------------------------------
    def submit(self) -> None:
        if self.running:
            return
        path = self.set_combo.currentData()
        if not path or path == _OPEN_FILE:
            self.show_message("Choose an eval set first.")
            return
        subjects = [(self.subject_list.item(i).text(), str(self.subject_list.item(i).data(_DATA)))
                    for i in range(self.subject_list.count())]
        if not subjects:
            self.show_message("Add a model to evaluate first.")
            return
        if not self.chosen_metrics():
            self.show_message("Check at least one metric.")
            return
        self.run_requested.emit({"set": str(path), "limit": self.limit_spin.value(),
                                 "subjects": subjects, "metrics": self.chosen_metrics(),
                                 "max_tokens": self.tokens_spin.value()})

    def _on_set_activated(self, index: int) -> None:
        data = self.set_combo.itemData(index)
        if data == _OPEN_FILE:
            self.open_set_file_requested.emit()
        elif data:
            self.set_chosen.emit(str(data))

    def _on_remove(self) -> None:
        row = self.subject_list.currentRow()
        if row >= 0:
            self.subject_list.takeItem(row)
        self._update_buttons()

    def _on_resume(self) -> None:
        if self.shown_run is not None and not self.running:
            self.resume_requested.emit(self.shown_run)

    def _on_saved_clicked(self, item: QListWidgetItem) -> None:
        if not self.running and len(self.saved_list.selectedItems()) <= 1:
            self.open_requested.emit(int(item.data(_DATA)))

    def _export(self, fmt: str) -> None:
        if self.shown_run is not None:
            self.export_requested.emit(self.shown_run, fmt)

    def _on_compare(self) -> None:
        chosen = [int(i.data(_DATA)) for i in self.saved_list.selectedItems()]
        if len(chosen) == 2:
            self.compare_requested.emit(min(chosen), max(chosen))

    def _update_buttons(self) -> None:
        idle = not self.running
        shown = self.shown_run is not None
        self.run_button.setEnabled(idle and self.subject_list.count() > 0)
        self.stop_button.setEnabled(self.running)
        self.resume_button.setEnabled(idle and shown and self._shown_status in
                                       ("cancelled", "incomplete", "running"))
        self.add_button.setEnabled(idle)
        self.remove_button.setEnabled(idle and self.subject_list.count() > 0)
        self.export_csv_button.setEnabled(shown)
        self.export_json_button.setEnabled(shown)
        self.compare_button.setEnabled(idle and len(self.saved_list.selectedItems()) == 2)
