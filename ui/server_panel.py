"""The Server tab: serve the chat model over an OpenAI-compatible API, watch every request.

A view only: starting, stopping, saving and opening a request in Learn are asked for through
signals; the Server controller answers with the address, the log's records and the snippets.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.api import ServerSettings
from ui.error_banner_view import ErrorBannerView
from ui.theme import mark_secondary

if TYPE_CHECKING:
    from core.api import RequestRecord

COLUMNS = ("Time", "Method", "Path", "Status", "Tokens", "ms")
KEEP_ROWS = 200  # the request log keeps as many
_ID = Qt.ItemDataRole.UserRole


class ServerPanel(QWidget):
    start_requested = Signal()
    stop_requested = Signal()
    settings_changed = Signal()  # host, port, key or engines edited: save them
    generate_key_requested = Signal()
    key_visibility_changed = Signal(bool)  # the snippets show the key only when it is shown
    open_in_learn_requested = Signal(int)  # a request's id in the log

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_banner = ErrorBannerView()
        self.start_button = QPushButton("Start server")
        self.start_button.setToolTip("Load the chat model into the server's engines and "
                                     "listen at the address below")
        self.state_label = QLabel("Stopped.")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.host_edit = QLineEdit()
        self.host_edit.setToolTip("127.0.0.1: this computer only. 0.0.0.0 or a network "
                                  "address lets other computers in, and needs an API key.")
        self.port_box = QSpinBox()
        self.port_box.setRange(0, 65535)
        self.port_box.setSpecialValueText("any free")
        self.parallel_box = QSpinBox()
        self.parallel_box.setRange(1, 16)
        self.parallel_box.setToolTip("Engine processes, each with its own copy of the model: "
                                     "requests beyond them wait their turn")
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("none (only 127.0.0.1)")
        self.show_key_button = QPushButton("Show")
        self.show_key_button.setCheckable(True)
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("A new random key; clients send it as "
                                        "“Authorization: Bearer <key>”")
        self.model_label = QLabel()
        self.address_edit = QLineEdit()
        self.address_edit.setReadOnly(True)
        self.copy_address_button = QPushButton("Copy")
        self.table = QTableWidget(0, len(COLUMNS))
        self.details = QTabWidget()
        self.messages_text = self._text_box()
        self.prompt_text = self._text_box()
        self.reply_text = self._text_box()
        self.detail_label = QLabel("Select a request to see what it sent and what the model "
                                   "read and wrote.")
        self.open_button = QPushButton("Open in Learn")
        self.open_button.setToolTip("The prompt in Tokenizer › What the model sees, the reply "
                                    "in Surprise, Next token at the prompt")
        self.snippets = QTabWidget()
        self._snippet_boxes: dict[str, QPlainTextEdit] = {}
        self._copied: dict[str, str] = {}
        self._records: dict[int, RequestRecord] = {}
        self._running = False
        self._build()
        self._connect()
        self.open_button.setEnabled(False)  # until a request the model answered is selected
        self.show_stopped()

    @staticmethod
    def _text_box() -> QPlainTextEdit:
        box = QPlainTextEdit()
        box.setReadOnly(True)
        box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        return box

    def _build(self) -> None:
        state_row = QHBoxLayout()
        state_row.addWidget(self.start_button)
        state_row.addWidget(self.state_label, 1)
        state_row.addWidget(self.progress)
        form = QGridLayout()
        form.addWidget(QLabel("Host"), 0, 0)
        form.addWidget(self.host_edit, 0, 1)
        form.addWidget(QLabel("Port"), 0, 2)
        form.addWidget(self.port_box, 0, 3)
        form.addWidget(QLabel("Engines"), 0, 4)
        form.addWidget(self.parallel_box, 0, 5)
        form.addWidget(QLabel("API key"), 1, 0)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.show_key_button)
        key_row.addWidget(self.generate_button)
        form.addLayout(key_row, 1, 1, 1, 5)
        form.addWidget(QLabel("Model"), 2, 0)
        form.addWidget(self.model_label, 2, 1, 1, 5)
        form.addWidget(QLabel("Address"), 3, 0)
        address_row = QHBoxLayout()
        address_row.addWidget(self.address_edit, 1)
        address_row.addWidget(self.copy_address_button)
        form.addLayout(address_row, 3, 1, 1, 5)
        form.setColumnStretch(1, 1)
        server_box = QGroupBox("Server")
        server_layout = QVBoxLayout(server_box)
        server_layout.addLayout(state_row)
        server_layout.addLayout(form)
        note = QLabel("It serves the chat model in engines of its own, with your saved load "
                      "and sampling settings. The requests below stay in memory only: "
                      "nothing a client sends is written to disk.")
        note.setWordWrap(True)
        mark_secondary(note)
        server_layout.addWidget(note)
        server_layout.addStretch(1)  # the snippets beside it may be taller: keep rows together

        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.details.addTab(self.messages_text, "Messages")
        self.details.addTab(self.prompt_text, "Prompt the model read")
        self.details.addTab(self.reply_text, "Reply")
        self.detail_label.setWordWrap(True)
        mark_secondary(self.detail_label)
        detail_row = QHBoxLayout()
        detail_row.addWidget(self.detail_label, 1)
        detail_row.addWidget(self.open_button)
        log_box = QGroupBox("Requests (newest first)")
        log_layout = QVBoxLayout(log_box)
        log_splitter = QSplitter(Qt.Orientation.Vertical)
        log_splitter.addWidget(self.table)
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addLayout(detail_row)
        lower_layout.addWidget(self.details, 1)
        log_splitter.addWidget(lower)
        log_splitter.setSizes([240, 220])
        log_layout.addWidget(log_splitter)

        snippet_box = QGroupBox("Call it from your code")
        snippet_layout = QVBoxLayout(snippet_box)
        snippet_layout.addWidget(self.snippets)
        top = QHBoxLayout()
        top.addWidget(server_box, 3)
        top.addWidget(snippet_box, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.error_banner)
        layout.addLayout(top)
        layout.addWidget(log_box, 1)

    def _connect(self) -> None:
        self.start_button.clicked.connect(self._on_start_clicked)
        self.show_key_button.toggled.connect(self._on_show_key)
        self.generate_button.clicked.connect(self.generate_key_requested)
        self.copy_address_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.address_edit.text()))
        self.host_edit.editingFinished.connect(self.settings_changed)
        self.key_edit.editingFinished.connect(self.settings_changed)
        self.port_box.valueChanged.connect(self.settings_changed)
        self.parallel_box.valueChanged.connect(self.settings_changed)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.open_button.clicked.connect(self._on_open)

    # -- intents ----------------------------------------------------------------------------
    def _on_start_clicked(self) -> None:
        self.error_banner.dismiss()
        (self.stop_requested if self._running else self.start_requested).emit()

    def _on_show_key(self, shown: bool) -> None:
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown
                                  else QLineEdit.EchoMode.Password)
        self.show_key_button.setText("Hide" if shown else "Show")
        self.key_visibility_changed.emit(shown)

    def _on_open(self) -> None:
        record_id = self.selected_id()
        if record_id is not None:
            self.open_in_learn_requested.emit(record_id)

    def settings(self) -> ServerSettings:
        return ServerSettings(self.host_edit.text().strip(), self.port_box.value(),
                              self.key_edit.text().strip(), self.parallel_box.value(),
                              self._running)

    def set_settings(self, settings: ServerSettings) -> None:
        for widget in (self.host_edit, self.port_box, self.key_edit, self.parallel_box):
            widget.blockSignals(True)
        self.host_edit.setText(settings.host)
        self.port_box.setValue(settings.port)
        self.key_edit.setText(settings.api_key)
        self.parallel_box.setValue(settings.parallel)
        for widget in (self.host_edit, self.port_box, self.key_edit, self.parallel_box):
            widget.blockSignals(False)

    def set_key(self, key: str) -> None:
        self.key_edit.setText(key)
        self.settings_changed.emit()

    def key_shown(self) -> bool:
        return self.show_key_button.isChecked()

    # -- the server's state -----------------------------------------------------------------
    def _set_editable(self, editable: bool) -> None:
        for widget in (self.host_edit, self.port_box, self.parallel_box, self.key_edit,
                       self.generate_button):
            widget.setEnabled(editable)

    def show_starting(self, text: str) -> None:
        self._set_editable(False)
        self.start_button.setEnabled(False)
        self.state_label.setText(text)
        self.progress.setRange(0, 0)  # busy until the first engine reports
        self.progress.show()

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.state_label.setText(f"Loading the model: {done} of {total} engines ready…")

    def show_running(self, url: str, engines: int) -> None:
        self._running = True
        self.progress.hide()
        self.start_button.setEnabled(True)
        self.start_button.setText("Stop server")
        self.address_edit.setText(url)
        plural = "engine" if engines == 1 else "engines"
        self.state_label.setText(f"Serving at {url} with {engines} {plural}.")

    def show_stopping(self) -> None:
        self.start_button.setEnabled(False)
        self.state_label.setText("Stopping…")

    def show_stopped(self, preview_url: str = "") -> None:
        self._running = False
        self.progress.hide()
        self._set_editable(True)
        self.start_button.setEnabled(True)
        self.start_button.setText("Start server")
        if preview_url:
            self.address_edit.setText(preview_url)
        self.state_label.setText("Stopped: nothing listens until you start it.")

    def show_failed(self, message: str, preview_url: str = "") -> None:
        self.show_stopped(preview_url)
        self.error_banner.show_message(message)

    @property
    def running(self) -> bool:
        return self._running

    def set_address(self, url: str) -> None:
        self.address_edit.setText(url)

    def set_model(self, text: str) -> None:
        self.model_label.setText(text)

    def set_snippets(self, shown: dict[str, str], copied: dict[str, str]) -> None:
        """`shown` in the boxes (the key masked while hidden), `copied` by the Copy buttons."""
        self._copied = dict(copied)
        for title, text in shown.items():
            box = self._snippet_boxes.get(title)
            if box is None:
                box = self._text_box()
                # Wrapped, not scrolled sideways: the whole command is seen before it is copied.
                box.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
                copy = QPushButton("Copy")
                copy.setToolTip(f"Copy the {title} snippet")
                copy.clicked.connect(lambda _=False, t=title: self.copy_snippet(t))
                page = QWidget()
                page_layout = QVBoxLayout(page)
                page_layout.setContentsMargins(4, 4, 4, 4)
                page_layout.addWidget(box, 1)
                page_layout.addWidget(copy, 0, Qt.AlignmentFlag.AlignRight)
                self.snippets.addTab(page, title)
                self._snippet_boxes[title] = box
            box.setPlainText(text)

    def snippet(self, title: str) -> str:
        return self._snippet_boxes[title].toPlainText()

    def copy_snippet(self, title: str) -> None:
        QGuiApplication.clipboard().setText(self._copied.get(title, ""))

    # -- the request log --------------------------------------------------------------------
    def add_record(self, record: RequestRecord) -> None:
        """A finished request, at the top of the table."""
        self._records[record.id] = record
        tokens = record.prompt_tokens + record.completion_tokens
        cells = (datetime.fromtimestamp(record.started).strftime("%H:%M:%S"), record.method,
                 record.path, str(record.status),
                 f"{record.prompt_tokens} + {record.completion_tokens}" if tokens else "",
                 f"{record.duration_ms:.0f}")
        self.table.insertRow(0)
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(_ID, record.id)
            if column in (3, 4, 5):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(0, column, item)
        while self.table.rowCount() > KEEP_ROWS:
            last = self.table.item(self.table.rowCount() - 1, 0)
            if last is not None:
                self._records.pop(int(last.data(_ID)), None)
            self.table.removeRow(self.table.rowCount() - 1)

    def record_count(self) -> int:
        return self.table.rowCount()

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        return int(items[0].data(_ID)) if items else None

    def _on_selection(self) -> None:
        record_id = self.selected_id()
        record = self._records.get(record_id) if record_id is not None else None
        self.open_button.setEnabled(record is not None and record.inspectable)
        if record is None:
            for box in (self.messages_text, self.prompt_text, self.reply_text):
                box.clear()
            return
        facts = [f"#{record.id} {record.method} {record.path}", f"status {record.status}"]
        if record.model:
            facts.append(record.model)
        if record.finish_reason:
            facts.append(f"finished: {record.finish_reason}")
        if record.error:
            facts.append(f"error: {record.error}")
        self.detail_label.setText(" · ".join(facts))
        self.messages_text.setPlainText(_messages_text(record) or "(no messages: a text "
                                        "prompt, or a request that never reached the model)")
        self.prompt_text.setPlainText(record.prompt)
        self.reply_text.setPlainText(record.reply)
        self.details.setCurrentWidget(self.prompt_text if record.prompt else self.messages_text)


def _messages_text(record: RequestRecord) -> str:
    parts = []
    for message in record.messages:
        content = message.get("content")
        if isinstance(content, list):  # OpenAI's content parts: the text ones
            content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(f"[{message.get('role', '?')}]\n{content or ''}")
    return "\n\n".join(parts)

