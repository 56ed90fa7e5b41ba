"""The main window: puts the panels together, starts the workers, shows errors, shuts down.

What the first paint needs is built in __init__: the Chat tab. The other tabs (Learn, Documents,
Models, Compare, Server) and the dialogs are built, and the controllers and their modules
imported, in start(), which run_app calls after the first paint: together they were more than
half of the cold start (bench/startup.py). A tab opened before start() builds them then.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QThread
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.api import data_home, database_path
from ui.chat_list_panel import ChatListPanel
from ui.chat_view import ChatView
from ui.collections_button import CollectionsButton
from ui.composer_view import ComposerView
from ui.error_banner_view import ErrorBannerView
from ui.model_picker_view import ModelPickerView
from ui.sources_panel import SourcesPanel
from ui.status_view import StatusView
from ui.system_prompt_view import SystemPromptView
from ui.theme import style_widget
from ui.tool_cards_view import ToolCardsView

if TYPE_CHECKING:  # imported when built, after the first paint (start, _build_later_tabs)
    from core.api import ChatMessage
    from desktop.boundary_controller import BoundaryController
    from desktop.chat_controller import ChatController
    from desktop.compare_controller import CompareController
    from desktop.database_controller import DatabaseController
    from desktop.documents_controller import DocumentsController
    from desktop.embedding_maps_controller import EmbeddingMapsController
    from desktop.engine_worker import EngineHandle
    from desktop.engines_controller import EnginesController
    from desktop.eval_controller import EvalController
    from desktop.finetune_controller import FinetuneController
    from desktop.learn_controller import LearnController
    from desktop.mcp_controller import McpController
    from desktop.model_controller import ModelController
    from desktop.models_library_controller import ModelsLibraryController
    from desktop.presets_controller import PresetsController
    from desktop.quant_lab_controller import QuantLabController
    from desktop.server_controller import ServerController
    from desktop.sources_controller import SourcesController
    from desktop.store_worker import StoreClient
    from desktop.tools_controller import ToolsController
    from desktop.welcome_controller import WelcomeController
    from ui.compare_panel import ComparePanel
    from ui.documents_panel import DocumentsPanel
    from ui.eval_panel import EvalPanel
    from ui.learn.learn_panel import LearnPanel
    from ui.models_panel import ModelsPanel
    from ui.presets_dialog import PresetsDialog
    from ui.sampling_dialog import SamplingDialog
    from ui.server_panel import ServerPanel

log = logging.getLogger(__name__)

_DEFAULT_SIZE = (1100, 760)
# after Chat, in order
_LATER_TABS = ("Learn", "Documents", "Models", "Compare", "Server", "Evaluate")
_FILTERS = {"md": "Markdown (*.md)", "json": "JSON (*.json)"}


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("Glassbox")
        self.setObjectName("mainWindow")
        self.chat_list = ChatListPanel()
        self.chat_view = ChatView()
        self.composer = ComposerView()
        self.system_prompt = SystemPromptView()
        self.model_picker = ModelPickerView()
        self.status = StatusView()
        self.error_banner = ErrorBannerView()
        self.system_prompt_button = QToolButton()
        self.system_prompt_button.setText("System prompt")
        self.system_prompt_button.setCheckable(True)
        self.system_prompt_button.setToolTip("Show this chat's system prompt")
        self.settings_button = QToolButton()
        self.settings_button.setText("Sampling…")
        self.settings_button.setToolTip("Temperature, top-k, reply length and seed")
        self.inspect_button = QToolButton()
        self.inspect_button.setText("Inspect reply")
        self.inspect_button.setToolTip("Open the last reply in Learn › Surprise: how expected "
                                       "each token was to the model")
        self.collections_button = CollectionsButton()
        self.presets_button = QToolButton()
        self.presets_button.setText("Presets…")
        self.presets_button.setToolTip("Personas, few-shot sets and styles: apply one to this "
                                       "chat or start a new chat from one (Ctrl+Shift+P)")
        self.presets_button.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.sources_button = QToolButton()
        self.sources_button.setText("Sources")
        self.sources_button.setCheckable(True)
        self.sources_button.setToolTip("Show the passages and the exact prompt behind the "
                                       "last grounded reply (Ctrl+Shift+S)")
        self.sources_button.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.sources = SourcesPanel()
        self.tool_cards = ToolCardsView()  # a reply's consent cards, under the chat
        # Built by _build_later_tabs, after the first paint.
        self.sampling_dialog: SamplingDialog
        self.presets_dialog: PresetsDialog
        self.learn: LearnPanel
        self.documents: DocumentsPanel
        self.models_panel: ModelsPanel
        self.compare_panel: ComparePanel
        self.server_panel: ServerPanel
        self.eval_panel: EvalPanel
        self._later_tabs_built = False
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self._icons_set = False
        self._build_layout()
        # Geometry is read from a small file, not the database: the GUI thread runs no query.
        self._window_settings = QSettings(str(data_home() / "window.ini"),
                                          QSettings.Format.IniFormat)
        self._restore_geometry()
        self.store: StoreClient | None = None
        self.engine: EngineHandle | None = None
        self.chats: ChatController | None = None
        self.learn_controller: LearnController | None = None
        self.maps_controller: EmbeddingMapsController | None = None
        self.quant_lab_controller: QuantLabController | None = None
        self.finetune_controller: FinetuneController | None = None
        self.boundary_controller: BoundaryController | None = None
        self.models: ModelController | None = None
        self.documents_controller: DocumentsController | None = None
        self.sources_controller: SourcesController | None = None
        self.library: ModelsLibraryController | None = None
        self.engines: EnginesController | None = None
        self.presets: PresetsController | None = None
        self.compare: CompareController | None = None
        self.server: ServerController | None = None
        self.evals: EvalController | None = None
        self.database: DatabaseController | None = None
        self.welcome: WelcomeController | None = None
        self.tools: ToolsController | None = None
        self.mcp: McpController | None = None
        self._closed = False
        tools_menu = self.menuBar().addMenu("&Tools")
        tools_menu.addAction("Check database…", self._check_database)
        tools_menu.addAction("MCP servers…", self._open_mcp_servers)

    def _build_layout(self) -> None:
        header = QHBoxLayout()
        header.setContentsMargins(8, 6, 8, 2)
        header.addWidget(self.model_picker)
        header.addWidget(self.collections_button)
        header.addStretch(1)
        header.addWidget(self.presets_button)
        header.addWidget(self.sources_button)
        header.addWidget(self.inspect_button)
        header.addWidget(self.system_prompt_button)
        header.addWidget(self.settings_button)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addLayout(header)
        column.addWidget(self.system_prompt)
        banner_row = QHBoxLayout()
        banner_row.setContentsMargins(8, 0, 8, 0)
        banner_row.addWidget(self.error_banner)
        column.addLayout(banner_row)
        column.addWidget(self.chat_view, 1)
        column.addWidget(self.tool_cards)
        column.addWidget(self.composer)
        self.system_prompt.hide()
        self.system_prompt_button.toggled.connect(self.system_prompt.setVisible)
        self.sources.hide()
        self.sources_button.toggled.connect(self.sources.setVisible)
        self.sources.installEventFilter(self)  # keeps the button in step when shown by a click
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.chat_list)
        splitter.addWidget(right)
        splitter.addWidget(self.sources)
        # The chat list keeps room for its titles when Sources opens: the chat column gives.
        self.chat_list.setMinimumWidth(190)
        self.sources.setMinimumWidth(300)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 0)
        splitter.setSizes([220, 640, 400])
        splitter.setChildrenCollapsible(False)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(splitter, "Chat")
        for title in _LATER_TABS:  # empty pages until _build_later_tabs replaces them
            self.tabs.addTab(QWidget(), title)  # new tabs go last: the Ctrl+N numbers stay
        self.setCentralWidget(self.tabs)
        for index in range(self.tabs.count()):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self)
            shortcut.activated.connect(lambda i=index: self.tabs.setCurrentIndex(i))
        compare_text = QShortcut(QKeySequence("Ctrl+Shift+C"), self)
        compare_text.activated.connect(self.compare_composer_text)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.statusBar().addPermanentWidget(self.status, 1)
        self.statusBar().setSizeGripEnabled(True)
        self._style()

    def _style(self) -> None:
        """The tab bar's and status bar's style sheet, in the current light or dark colours."""
        style_widget(self.tabs.tabBar())
        style_widget(self.statusBar())

    def _restore_geometry(self) -> None:
        geometry = self._window_settings.value("geometry")
        if not (isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)):
            self.resize(*_DEFAULT_SIZE)

    def _build_later_tabs(self) -> None:
        """Build the tabs after Chat and the dialogs, in place of their empty pages (once)."""
        if self._later_tabs_built:
            return
        self._later_tabs_built = True
        from ui.compare_panel import ComparePanel
        from ui.documents_panel import DocumentsPanel
        from ui.eval_panel import EvalPanel
        from ui.learn.learn_panel import LearnPanel
        from ui.models_panel import ModelsPanel
        from ui.presets_dialog import PresetsDialog
        from ui.sampling_dialog import SamplingDialog
        from ui.server_panel import ServerPanel

        self.sampling_dialog = SamplingDialog(self)
        self.presets_dialog = PresetsDialog(self)
        self.learn = LearnPanel()
        self.documents = DocumentsPanel()
        self.models_panel = ModelsPanel()
        self.compare_panel = ComparePanel()
        self.server_panel = ServerPanel()
        self.eval_panel = EvalPanel()
        panels = (self.learn, self.documents, self.models_panel, self.compare_panel,
                  self.server_panel, self.eval_panel)
        current = self.tabs.currentIndex()
        signals_were_blocked = self.tabs.blockSignals(True)  # the same tab stays current
        for index, (panel, title) in enumerate(zip(panels, _LATER_TABS, strict=True), start=1):
            empty = self.tabs.widget(index)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, panel, title)
            empty.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(signals_were_blocked)
        self._set_icons()

    def _set_icons(self) -> None:
        """Icons on the tabs and main actions, after the first paint (the icon font loads
        then), and again when the palette changes (they are drawn in its text colour)."""
        from ui.theme import icon

        self._icons_set = True
        palette = self.palette()
        for index, name in enumerate(("chat", "learn", "documents", "models", "compare",
                                           "server", "use")):  # Evaluate: a check mark
            self.tabs.setTabIcon(index, icon(name, palette))
        # Sources and Inspect reply keep their words; the settings-like three and Open GGUF
        # file become icons (their tooltips name them): the chat and the model's whole name
        # fit 1100 px with the chat list beside it.
        beside = Qt.ToolButtonStyle.ToolButtonTextBesideIcon
        only = Qt.ToolButtonStyle.ToolButtonIconOnly
        buttons = {self.sources_button: ("sources", beside),
                   self.inspect_button: ("inspect", beside),
                   self.presets_button: ("presets", only),
                   self.system_prompt_button: ("system_prompt", only),
                   self.settings_button: ("sampling", only),
                   self.model_picker.open_button: ("open_file", only)}
        for button, (name, style) in buttons.items():
            button.setIcon(icon(name, palette))
            button.setToolButtonStyle(style)
            name_it = button.text().rstrip("…")
            if style == only and not button.toolTip().startswith(name_it):
                tip = button.toolTip()
                button.setToolTip(f"{name_it}: {tip}" if tip else button.text())
        self.composer.send_button.setIcon(icon("send", palette))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._style()
            if self._icons_set:
                self._set_icons()

    # -- lifetime ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers; run_app calls this once the window is on screen."""
        if self._closed or self.store is not None:
            return
        self._build_later_tabs()
        from desktop.chat_controller import ChatController, ChatViews
        from desktop.compare_controller import CompareController
        from desktop.documents_controller import DocumentsController
        from desktop.embedding_maps_controller import EmbeddingMapsController
        from desktop.engine_worker import EngineHandle
        from desktop.finetune_controller import FinetuneController
        from desktop.learn_controller import LearnController
        from desktop.model_controller import ModelController
        from desktop.models_library_controller import ModelsLibraryController
        from desktop.presets_controller import PresetsController
        from desktop.quant_lab_controller import QuantLabController
        from desktop.sources_controller import SourcesController, SourcesViews
        from desktop.store_worker import StoreClient

        self.store = StoreClient(database_path(), self.show_error, self)
        self.engine = EngineHandle(database_path(), data_home(), self)
        views = ChatViews(self.chat_list, self.chat_view, self.composer, self.system_prompt,
                          self.status)
        self.chats = ChatController(self.store, self.engine, views, self.show_error, self)
        self.models = ModelController(self.store, self.engine, self.model_picker, self.status,
                                      self.show_error, data_home(), self)
        self.sources_controller = SourcesController(
            self.store, self.engine,
            SourcesViews(self.collections_button, self.sources, self.sources, self.chat_view,
                         self.status), self.show_error, self)
        self.chats.chat_opened.connect(self.sources_controller.on_chat_opened)
        # The Learn tab names the model as the picker and the status bar do.
        self.learn_controller = LearnController(self.engine, self.learn, self.show_error,
                                                self._conversation, self,
                                                model_name=self.models.name_of_path)
        # Attribution's "Explain the last chat reply" reads the reply's passages from here.
        self.learn_controller.attribution.set_grounding_source(
            self.sources_controller.latest_grounding)
        self.documents_controller = DocumentsController(self.documents, self.show_error, self)
        self.documents_controller.collections_changed.connect(
            self.sources_controller.on_collections)
        self.library = ModelsLibraryController(self.models_panel, self)
        self.library.library_changed.connect(self.models.set_library)
        from desktop.engines_controller import EnginesController

        self.engines = EnginesController(self.models_panel.engines, database_path(),
                                         self.models_panel.show_error, self)
        self.engines.remote_models.connect(self.models.set_remote)
        self.library.use_requested.connect(self._use_model)
        self.sources_controller.download_requested.connect(self.library.download_starter)
        self.maps_controller = EmbeddingMapsController(self.learn.maps, self.show_error,
                                                       self._current_model_path, self,
                                                       model_name=self.models.name_of_path)
        self.documents_controller.collections_changed.connect(
            self.maps_controller.on_collections)
        self.quant_lab_controller = QuantLabController(self.learn.quant_lab, self.show_error,
                                                       self._current_model_path, self,
                                                       model_name=self.models.name_of_path,
                                                       needs_local=self.models.offer_local)
        self.engine.worker.model_loaded.connect(self.quant_lab_controller.on_model_loaded)
        self.quant_lab_controller.import_requested.connect(self._import_quantized_copy)
        models = self.models
        self.finetune_controller = FinetuneController(
            self.learn.finetune, self.show_error, self._current_model_path, self,
            use_adapter=lambda base, adapter, scale: models.load(base, loras=[(adapter, scale)]),
            set_adapter_scale=lambda adapter, scale: models.set_lora_scales({adapter: scale}),
            needs_local=self.models.offer_local)
        self.engine.worker.model_loaded.connect(self.finetune_controller.on_model_loaded)
        from desktop.boundary_controller import BoundaryController

        self.boundary_controller = BoundaryController(self.learn.boundary, self.show_error, self)
        from desktop.tiny_gpt_controller import TinyGptController

        self.tiny_gpt_controller = TinyGptController(self.learn.tiny_gpt, self.show_error,
                                                     self._current_model_path, self)
        self.tiny_gpt_controller.load_requested.connect(lambda path: models.load(path))
        self.tiny_gpt_controller.start()
        from desktop.steering_controller import SteeringController

        self.steering_controller = SteeringController(
            self.learn.steering, self.show_error, self._current_model_path, self,
            steer_chat=self.engine.set_control_vector)
        self.engine.worker.model_loaded.connect(self.steering_controller.on_model_loaded)
        self.presets = PresetsController(self.store, self.presets_dialog, self.chats, self)
        self.presets_button.clicked.connect(self.presets.open)
        self.compare = CompareController(self.store, self.compare_panel, database_path(),
                                         self._current_model_path, self.show_error, self,
                                         model_name=self.models.name_of_path)
        self.compare_panel.export_requested.connect(self._export_comparison)
        from desktop.server_controller import ServerController

        self.server = ServerController(self.store, self.server_panel, self._current_model_path,
                                       self, model_name=self.models.name_of_path)
        self.engine.worker.model_loaded.connect(self.server.on_model_loaded)
        self.server.open_in_learn.connect(self._open_request_in_learn)
        from desktop.eval_controller import EvalController

        self.evals = EvalController(self.eval_panel, self._current_model_path, self.show_error,
                                    self, model_name=self.models.name_of_path,
                                    # looked up per call: tests replace the dialogs
                                    ask_open_path=lambda *a: self.ask_open_path(*a),
                                    ask_save_path=lambda *a: self.ask_save_path(*a))
        self.evals.learn_requested.connect(self._open_eval_item_in_learn)
        self.chat_list.export_requested.connect(self._export_chat)
        self.chat_list.import_requested.connect(self._import_chat)
        self.inspect_button.clicked.connect(self._inspect_last_reply)
        self.settings_button.clicked.connect(self._open_sampling_dialog)
        self.sampling_dialog.settings_accepted.connect(self._save_sampling)
        from desktop.welcome_controller import WelcomeController

        self.welcome = WelcomeController(self)
        self._start_tools()
        # The other workers open the database only once its check passed (or a repair did).
        from desktop.database_controller import DatabaseController

        self.database = DatabaseController(database_path(), self.show_error, self,
                                           self.error_banner)
        self.database.start(self._start_workers)

    def _start_workers(self) -> None:
        assert self.store is not None and self.engine is not None and self.chats is not None
        assert self.models is not None and self.documents_controller is not None
        assert self.library is not None and self.compare is not None
        assert self.engines is not None
        assert self.maps_controller is not None and self.quant_lab_controller is not None
        assert self.finetune_controller is not None
        assert self.server is not None and self.evals is not None
        if self._closed:
            return
        self.store.start()
        self.engine.start()
        self.chats.start()
        self.models.start()
        self.documents_controller.start()
        self.library.start()
        self.engines.start()
        self.compare.start()
        self.maps_controller.start()
        self.quant_lab_controller.start()
        self.finetune_controller.start()
        if self.boundary_controller is not None:
            self.boundary_controller.start()
        self.steering_controller.start()
        self.server.start()  # after the store: it reads whether it was serving
        self.evals.start()
        if self.mcp is not None:
            self.mcp.start()

    def _start_tools(self) -> None:
        """Tools in the chat (consent cards, the picker, the agent trace link) and the one
        MCP host, closed with the other workers on quit."""
        from desktop.mcp_controller import McpController
        from desktop.tools_controller import ToolsController, ToolsViews

        assert self.store is not None and self.engine is not None and self.chats is not None
        self.mcp = McpController(self, self.show_error, self)
        self.tools = ToolsController(
            self.store, self.engine, self.chats,
            ToolsViews(self.chat_view, self.tool_cards, self.composer.tools_button,
                       self.status), self.mcp, self._open_agent_trace, self.show_error,
            self, self)

    def _open_agent_trace(self, trace: object) -> None:
        self.tabs.setCurrentWidget(self.learn)
        self.learn.show_agent_trace().show_trace(trace)  # type: ignore[arg-type]

    def _open_mcp_servers(self) -> None:
        if self.mcp is not None:
            self.mcp.open_dialog()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if watched is self.sources and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            self.sources_button.setChecked(not self.sources.isHidden())
        return super().eventFilter(watched, event)

    def _conversation(self) -> list[ChatMessage]:
        """The open chat as plain messages, system prompt first, for "what the model sees"."""
        from core.chat import as_prompt

        return as_prompt(self.system_prompt.text(), self.chat_view.shown_messages())

    def _inspect_last_reply(self) -> None:
        conversation = self._conversation()
        last = max((i for i, m in enumerate(conversation) if m.role == "assistant"),
                   default=None)
        if last is None or not conversation[last].content.strip():
            self.show_error("There is no reply in this chat to inspect yet.")
            return
        assert self.learn_controller is not None
        self.tabs.setCurrentWidget(self.learn)
        self.learn_controller.measure(conversation[last].content, conversation[:last])

    def _open_request_in_learn(self, prompt: str, reply: str,
                               messages: list[ChatMessage]) -> None:
        """A request from the Server tab's log, opened in Learn (prompt, reply, Next token)."""
        assert self.learn_controller is not None
        self.tabs.setCurrentWidget(self.learn)
        self.learn_controller.open_request(prompt, reply, messages)

    def _open_eval_item_in_learn(self, prompt: str, reply: str) -> None:
        """An eval item's reply in Learn › Surprise, read after its prompt."""
        from core.api import ChatMessage

        self._open_request_in_learn(prompt, reply, [ChatMessage("user", prompt)])

    # -- prompt lab -------------------------------------------------------------------------
    def _current_model_path(self) -> str | None:
        model = self.models.model if self.models is not None else None
        return model.path if model is not None else None

    def _on_tab_changed(self, index: int) -> None:
        self.status.set_chat_numbers_visible(index == 0)
        if index > 0 and not self._later_tabs_built:  # opened before start()
            self._build_later_tabs()
        if self.tabs.widget(index) in (self.compare_panel, self.eval_panel):
            combo = self.model_picker.combo
            models = [(combo.itemText(i), str(combo.itemData(i))) for i in range(combo.count())
                      if combo.itemData(i)]
            self.compare_panel.set_models(models)
            self.eval_panel.set_models(models)
            if self.evals is not None:
                self.evals.add_chat_model()

    def compare_composer_text(self) -> None:
        """Ctrl+Shift+C: run the composer's text through the Compare tab's variants."""
        text = self.composer.text()
        self._build_later_tabs()
        self.tabs.setCurrentWidget(self.compare_panel)
        if text.strip() and not self.compare_panel.running:
            self.compare_panel.set_prompt(text)
            self.compare_panel.submit()

    def ask_save_path(self, title: str, suggested: str, file_filter: str) -> str | None:
        """A file to write, chosen by the user (None: cancelled). Tests replace this."""
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, file_filter)
        return path or None

    def ask_open_path(self, title: str, file_filter: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self, title, "", file_filter)
        return path or None

    def _export_chat(self, chat_id: int, fmt: str) -> None:
        assert self.chats is not None
        path = self.ask_save_path("Export chat", f"chat-{chat_id}.{fmt}", _FILTERS[fmt])
        if path:
            self.chats.export_chat(chat_id, fmt, path)

    def _import_chat(self) -> None:
        assert self.chats is not None
        path = self.ask_open_path("Import chat", _FILTERS["json"])
        if path:
            self.chats.import_chat(path)

    def _export_comparison(self, comparison_id: int, fmt: str) -> None:
        assert self.compare is not None
        path = self.ask_save_path("Export comparison", f"comparison-{comparison_id}.{fmt}",
                                  _FILTERS[fmt])
        if path:
            self.compare.export(comparison_id, fmt, path)

    def _import_quantized_copy(self, path: str) -> None:
        """The quantization lab's copy joins the library as a copy: clearing the lab deletes
        the original."""
        assert self.library is not None
        self.tabs.setCurrentWidget(self.models_panel)
        self.library.import_file(path, copy=True)

    def _use_model(self, path: str) -> None:
        """“Use in chat” in the Models tab: load the model and go to the chat."""
        assert self.models is not None
        self.models.load(path)
        self.tabs.setCurrentIndex(0)

    def _open_sampling_dialog(self) -> None:
        from core.api import SamplingSettings
        from core.settings import read

        assert self.store is not None
        self.store.call(lambda s: read(s.settings, SamplingSettings), self._show_sampling_dialog)

    def _show_sampling_dialog(self, settings: object) -> None:
        self.sampling_dialog.set_settings(settings)  # type: ignore[arg-type]
        self.sampling_dialog.show()
        self.sampling_dialog.raise_()

    def _save_sampling(self, values: dict) -> None:
        from core.settings import sampling_from, save

        assert self.store is not None
        self.store.call(lambda s: save(s.settings, sampling_from(values)))

    def show_error(self, message: str) -> None:
        """The one way a failure reaches the user: an inline banner, never a modal box."""
        log.info("shown to the user: %s", message)
        self.error_banner.show_message(message)

    def _check_database(self) -> None:
        if self.database is not None:
            self.database.open_dialog()

    def store_busy(self) -> bool:
        """True while a store job has not come back (tests wait on this)."""
        return self.store is not None and self.store.busy

    def threads(self) -> list[QThread]:
        from desktop.job_thread import job_threads

        return [jobs.qthread for jobs in job_threads(self)]

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save what is pending, then stop every worker thread (the reply, the engine process
        and the connections with them) in one go."""
        if self._closed:
            return
        self._closed = True
        self._window_settings.setValue("geometry", self.saveGeometry())
        self._window_settings.sync()
        self.system_prompt.commit()  # a store job kept at stop: it is written before the end
        from desktop.job_thread import stop_job_threads

        late = stop_job_threads(self)
        if late:
            log.error("threads still running at exit: %s", ", ".join(late))
        if self.database is not None:
            self.database.close_dialog()
