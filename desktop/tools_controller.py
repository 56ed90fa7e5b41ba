"""Tools in the chat: the picker, the consent cards of a reply and the agent trace link.

The reply itself runs on the engine's thread (EngineWorker, through ChatSession with a
toolbox): this controller hands the worker the consent callback (ConsentBroker.ask, which
blocks that thread until the user answers a card here), the chat's tool choice and step
limit, and shows what the agent's events say. Stop denies a waiting card and cancels the
agent (EngineWorker.stop releases the broker). The "Agent trace" link under a reply opens the
trace stored with the message in Learn › Agent trace.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QToolButton, QWidget

from core.api import (
    AgentTrace,
    CallDecided,
    CallFinished,
    CallProposed,
    ChatTools,
    StepStarted,
)
from desktop import tools_wiring as wiring
from desktop.tools_consent import ConsentBroker
from ui.tools_picker_view import ToolsPick, ToolsPickerDialog

if TYPE_CHECKING:
    from core.api import Decision, ToolCall, ToolSpec
    from desktop.chat_controller import ChatController
    from desktop.engine_worker import EngineHandle
    from desktop.mcp_controller import McpController
    from desktop.store_worker import StoreClient
    from ui.chat_view import ChatView
    from ui.status_view import StatusView
    from ui.tool_cards_view import ToolCardsView

DEFAULT_MAX_STEPS = 5


@dataclass(frozen=True)
class ToolsViews:
    chat_view: ChatView
    cards: ToolCardsView
    button: QToolButton
    status: StatusView


class ToolsController(QObject):
    trace_opened = Signal(object)  # the AgentTrace shown in Learn

    def __init__(self, store: StoreClient, engine: EngineHandle, chats: ChatController,
                 views: ToolsViews, mcp: McpController | None,
                 open_trace: Callable[[AgentTrace], None], show_error: Callable[[str], None],
                 dialog_parent: QWidget | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._engine = engine
        self._chats = chats
        self.views = views
        self._mcp = mcp
        self._open_trace = open_trace
        self._show_error = show_error
        self._dialog_parent = dialog_parent
        self.broker = ConsentBroker(self)
        self._requests: dict[tuple[int, str], int] = {}  # (step, tool) -> broker request
        self._lock = threading.Lock()
        self._runs: dict[int, tuple[str, int]] = {}  # chat -> (tool choice, step limit)
        self._tools: dict[int, ChatTools] = {}  # chat -> its tools, as last read
        self.picker: ToolsPickerDialog | None = None
        self._cards_chat: int | None = None  # the chat whose reply the cards belong to
        worker = engine.worker
        worker.consent = self.broker
        worker.tool_run = self.run_settings
        worker.mcp_host = mcp.host if mcp is not None else None
        worker.agent_event.connect(self._on_agent_event)
        worker.reply_started.connect(self._on_reply_started)
        self.broker.asked.connect(self._on_asked)
        views.cards.decided.connect(self._on_card_decided)
        views.chat_view.agent_trace_requested.connect(self.open_trace)
        views.button.clicked.connect(self.open_picker)
        chats.chat_opened.connect(self._on_chat_opened)
        if mcp is not None:
            mcp.servers_changed.connect(self._on_servers)

    # -- any thread -------------------------------------------------------------------------
    def run_settings(self, chat_id: int) -> tuple[str, int]:
        """The chat's tool choice and step limit (the engine's thread asks at each reply)."""
        with self._lock:
            return self._runs.get(chat_id, ("auto", DEFAULT_MAX_STEPS))

    def set_run_settings(self, chat_id: int, tool_choice: str, max_steps: int) -> None:
        with self._lock:
            self._runs[chat_id] = (tool_choice, max_steps)

    # -- the picker -------------------------------------------------------------------------
    def open_picker(self) -> None:
        chat_id = self._chats.current_chat_id
        if chat_id is None:
            return
        if self.picker is None:
            self.picker = ToolsPickerDialog(wiring.BUILTINS, self._dialog_parent)
            self.picker.picked.connect(self._on_picked)
            if self._mcp is not None:
                self.picker.servers_requested.connect(self._mcp.open_dialog)
        if self._mcp is not None:
            self.picker.set_servers(self._mcp.names)
        picker = self.picker
        self._store.call(lambda s: wiring.chat_tools(s, chat_id),
                         lambda tools: self._show_picker(picker, chat_id, tools))

    def _show_picker(self, picker: ToolsPickerDialog, chat_id: int, tools: ChatTools) -> None:
        self._tools[chat_id] = tools
        picker.setProperty("chat_id", chat_id)
        picker.set_pick(ToolsPick(tools, tools.tool_choice, tools.max_steps))
        picker.show()
        picker.raise_()

    def _on_picked(self, pick: ToolsPick) -> None:
        assert self.picker is not None
        chat_id = int(self.picker.property("chat_id"))
        self.store_tools(chat_id, replace(
            pick.tools, tool_choice=pick.tool_choice, max_steps=pick.max_steps))

    def store_tools(self, chat_id: int, tools: ChatTools) -> None:
        self._tools[chat_id] = tools
        self.set_run_settings(chat_id, tools.tool_choice, tools.max_steps)
        self._store.call(lambda s: wiring.set_chat_tools(s, chat_id, tools))
        if chat_id == self._chats.current_chat_id:
            self._show_button(tools)

    def _on_chat_opened(self, chat: Any, _messages: list[Any]) -> None:
        chat_id = int(chat.id)
        if chat_id != self._cards_chat and not self._chats.generating:
            self.views.cards.clear()  # the cards belong to the reply of the chat left
            self._cards_chat = None
        self._store.call(lambda s: wiring.chat_tools(s, chat_id),
                         lambda tools: self._on_tools_read(chat_id, tools),
                         lambda _message: None)  # a store without tools: the button stays

    def _on_tools_read(self, chat_id: int, tools: ChatTools) -> None:
        self._tools[chat_id] = tools
        self.set_run_settings(chat_id, tools.tool_choice, tools.max_steps)
        if chat_id == self._chats.current_chat_id:
            self._show_button(tools)

    def _show_button(self, tools: ChatTools) -> None:
        count = len(tools.builtins) + len(tools.mcp_servers)
        self.views.button.setText(f"Tools · {count}" if count else "Tools")
        self.views.button.setToolTip(
            "Tools on for this chat: " + ", ".join([*tools.builtins, *tools.mcp_servers])
            if count else "Let the model call tools in this chat (each call asks you first)")

    def _on_servers(self, names: list[str]) -> None:
        if self.picker is not None:
            self.picker.set_servers(names)

    # -- a reply's calls --------------------------------------------------------------------
    def _on_reply_started(self, chat_id: int, _reply_id: int) -> None:
        if chat_id == self._chats.current_chat_id:
            self.views.cards.clear()  # a new reply: the last one's cards are in its trace
            self._cards_chat = chat_id

    def _on_agent_event(self, chat_id: int, event: object) -> None:
        cards = self.views.cards
        self._cards_chat = chat_id
        if isinstance(event, StepStarted):
            if event.index > 0:
                self.views.status.set_state(f"Generating… step {event.index + 1}")
        elif isinstance(event, CallProposed):
            if cards.card_for(event.call) is None:
                cards.add_call(event.call, event.spec)
        elif isinstance(event, CallDecided):
            card = cards.card_for(event.call)
            if card is not None and card.waiting:
                card.show_decision(event.decision, asked=event.asked)
            if event.decision == "allow_always" and event.asked:
                self._remember_always(chat_id, event.call.name)
        elif isinstance(event, CallFinished):
            card = cards.card_for(event.call) or cards.add_call(event.call, None)
            card.set_outcome(event.outcome)
            self.views.status.set_state(f"Generating… {event.call.name} answered")

    def _on_asked(self, request: int, call: ToolCall, spec: ToolSpec) -> None:
        cards = self.views.cards
        card = cards.card_for(call)
        if card is None or not card.waiting:
            card = cards.add_call(call, spec)
        self._requests[(call.step, call.name)] = request
        self.views.status.set_state(f"Waiting for your answer: run {call.name}?")
        cards.ensureWidgetVisible(card)
        card.setFocus()

    def _on_card_decided(self, call: ToolCall, decision: Decision) -> None:
        request = self._requests.pop((call.step, call.name), None)
        if request is not None:
            self.broker.answer(request, decision)
            self.views.status.set_state("Generating…")

    def _remember_always(self, chat_id: int, name: str) -> None:
        """"Always for this chat" is kept with the chat (so a later reply does not ask)."""
        def job(store: Any) -> ChatTools:
            tools = wiring.chat_tools(store, chat_id)
            if name not in tools.always_allowed:
                tools.always_allowed.append(name)
                wiring.set_chat_tools(store, chat_id, tools)
            return tools

        self._store.call(job, lambda tools: self._tools.__setitem__(chat_id, tools))

    # -- the trace --------------------------------------------------------------------------
    def open_trace(self, _message_id: int, data: dict[str, Any]) -> None:
        try:
            trace = AgentTrace.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            self._show_error(f"This reply's agent trace cannot be read ({exc}): it was written "
                             "by another version or is damaged.")
            return
        self._open_trace(trace)
        self.trace_opened.emit(trace)
