"""Tools in the real window (pytest-qt, the bundled model): consent cards answered in the
chat while the agent's thread waits, Stop releasing a waiting card as "deny", the Agent
trace link of a stored reply opening Learn › Agent trace, and the whole flow with the agent
(the bundled model forced to call the calculator)."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
from pathlib import Path
from typing import Any

from guitools import REPLY_TIMEOUT_MS, OpenWindow, stored_messages, wait_idle, write_settings
from PySide6.QtCore import Qt, QUrl
from pytestqt.qtbot import QtBot

from core.store import StoredMessage
from core.tools.types import (
    AgentStep,
    AgentTrace,
    CallDecided,
    CallFinished,
    CallProposed,
    ChatTools,
    ToolCall,
    ToolOutcome,
    ToolSpec,
)
from desktop.main_window import MainWindow

CALC = ToolSpec("calculator", "Evaluate an arithmetic expression.",
                {"type": "object", "properties": {"expression": {"type": "string"}},
                 "required": ["expression"]})


def _call(step: int = 0) -> ToolCall:
    arguments = {"expression": "17 * 23"}
    return ToolCall(step, "calculator", arguments,
                    json.dumps({"name": "calculator", "arguments": arguments}))


class _Agent(threading.Thread):
    """Stands in for the agent on the engine's side: proposes a call, asks the window's
    consent callback (blocking, as the real agent does) and reports the outcome."""

    def __init__(self, window: MainWindow, chat_id: int, call: ToolCall) -> None:
        super().__init__(name="test-agent")
        self.window, self.chat_id, self.call = window, chat_id, call
        self.decision: str | None = None

    def run(self) -> None:
        assert self.window.engine is not None and self.window.tools is not None
        worker = self.window.engine.worker
        worker.agent_event.emit(self.chat_id, CallProposed(self.call, CALC))
        assert worker.consent is not None
        self.decision = worker.consent.ask(self.call, CALC)
        worker.agent_event.emit(self.chat_id, CallDecided(self.call, self.decision, True))  # type: ignore[arg-type]
        outcome = ToolOutcome("391", elapsed_s=0.001) if self.decision != "deny" else \
            ToolOutcome("The user denied this call.", denied=True)
        worker.agent_event.emit(self.chat_id, CallFinished(self.call, outcome))


def test_consent_card_in_the_window_answers_the_agent(qtbot: QtBot,
                                                      open_window: OpenWindow) -> None:
    window = open_window()
    assert window.chats is not None and window.chats.current_chat_id is not None
    agent = _Agent(window, window.chats.current_chat_id, _call())
    agent.start()
    qtbot.waitUntil(lambda: bool(window.tool_cards.waiting_cards()), timeout=10_000)
    card = window.tool_cards.waiting_cards()[0]
    assert window.tool_cards.isVisible() and card.isVisible()
    assert json.loads(card.arguments.toPlainText()) == {"expression": "17 * 23"}
    assert agent.is_alive()  # the agent waits for the user
    qtbot.mouseClick(card.allow_button, Qt.MouseButton.LeftButton)
    agent.join(10)
    assert agent.decision == "allow_once"
    qtbot.waitUntil(lambda: card.result.toPlainText() == "391", timeout=10_000)
    assert "done" in card.state.text()


def test_stop_denies_a_waiting_card(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    assert window.chats is not None and window.engine is not None
    agent = _Agent(window, window.chats.current_chat_id or 0, _call())
    agent.start()
    qtbot.waitUntil(lambda: bool(window.tool_cards.waiting_cards()), timeout=10_000)
    window.engine.stop()  # what the Stop button reaches
    agent.join(10)
    assert not agent.is_alive() and agent.decision == "deny"
    card = window.tool_cards.cards[0]
    qtbot.waitUntil(lambda: "Denied" in card.state.text(), timeout=10_000)


@dataclasses.dataclass(frozen=True)
class _TracedMessage(StoredMessage):
    agent_trace: dict[str, Any] | None = None


def test_agent_trace_link_opens_the_learn_view(qtbot: QtBot, open_window: OpenWindow) -> None:
    window = open_window()
    call = _call()
    step = AgentStep(index=0, prompt="<|im_start|>user\n17*23?<|im_end|>\n", messages=(),
                     raw_output=call.raw, constrained=(0, len(call.raw)), call=call,
                     decision="allow_once", outcome=ToolOutcome("391"))
    answer = AgentStep(index=1, prompt="…", messages=(), raw_output="It is 391.")
    trace = AgentTrace((CALC,), (step, answer), "It is 391.", "answer")
    messages = [StoredMessage(1, 1, "user", "What is 17 * 23?", "complete", 0.0, None),
                _TracedMessage(2, 1, "assistant", "It is 391.", "complete", 0.0, None,
                               parent_id=1, agent_trace=trace.to_json())]
    window.chat_view.set_messages(messages)
    assert "Agent trace · 1 tool call: calculator" in window.chat_view.toPlainText()
    window.chat_view.anchorClicked.emit(QUrl("glassbox-trace:2"))
    panel = window.learn.agent_trace
    assert window.tabs.currentWidget() is window.learn
    assert window.learn.currentWidget() is panel
    assert panel.trace == trace
    assert panel.step_view.shaded_text() == call.raw
    panel.step_view.next_token_button.click()  # the step's exact prompt, in Next token
    assert window.learn.currentWidget() is window.learn.next_token
    assert window.learn.next_token.prompt() == step.prompt


# -- the whole flow, with the agent loop and the chat's tools in core ---------------------
def test_chat_calls_the_calculator_with_consent(qtbot: QtBot,
                                                open_window: OpenWindow) -> None:
    # Room for the call's JSON (about 30 tokens; 24 cut it short), little more.
    write_settings(sampling={"seed": 7, "max_tokens": 40, "temperature": 0.0})
    window = open_window()
    assert window.chats is not None and window.tools is not None
    chat_id = window.chats.current_chat_id
    assert chat_id is not None
    window.composer.tools_button.click()
    picker = window.tools.picker
    assert picker is not None
    qtbot.waitUntil(picker.isVisible, timeout=10_000)
    picker.builtin_boxes["calculator"].setChecked(True)
    picker.choice.setCurrentIndex(picker.choice.findData("required"))
    picker.steps.setValue(1)  # one call, then the answer (the step limit's last turn)
    picker.buttons.accepted.emit()
    wait_idle(qtbot, window)
    assert window.composer.tools_button.text() == "Tools · 1"
    window.composer.set_text("What is 17 * 23? Use the calculator.")
    qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(window.tool_cards.waiting_cards()), timeout=REPLY_TIMEOUT_MS)
    card = window.tool_cards.waiting_cards()[0]
    assert card.call.name == "calculator"
    qtbot.mouseClick(card.allow_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.result.isVisible(), timeout=REPLY_TIMEOUT_MS)
    assert card.result.toPlainText() == "391"
    def answered() -> bool:  # a further call is denied: only the first is under test
        for extra in window.tool_cards.waiting_cards():
            extra.decide("deny")
        return not window.chats.generating  # type: ignore[union-attr]

    qtbot.waitUntil(answered, timeout=2 * REPLY_TIMEOUT_MS)  # the answer after the call
    wait_idle(qtbot, window)
    reply = stored_messages(chat_id)[-1]
    trace = getattr(reply, "agent_trace", None)
    assert reply.role == "assistant" and trace, "the reply's trace was stored"
    assert "Agent trace" in window.chat_view.toPlainText()
    window.chat_view.anchorClicked.emit(QUrl(f"glassbox-trace:{reply.id}"))
    panel = window.learn.agent_trace
    assert window.learn.currentWidget() is panel and panel.trace is not None
    first = panel.trace.steps[0]
    assert first.call is not None and first.call.name == "calculator"
    assert first.decision == "allow_once" and first.outcome is not None and first.outcome.ok
    assert panel.step_view.shaded_text()  # the call was written under the grammar


def test_chat_calls_an_mcp_tool_with_consent(qtbot: QtBot, open_window: OpenWindow) -> None:
    """A real stdio MCP server (the SDK's MCPServer, tests/gui/mcp_weather_server.py) set up
    in the app's mcp.json: its tool is called after the card is answered, and its result's
    instruction-like line is marked on the card."""
    from core.tools.mcp_config import app_config_path

    server = Path(__file__).with_name("mcp_weather_server.py")
    app_config_path().write_text(json.dumps(
        {"mcpServers": {"weather": {"command": sys.executable, "args": [str(server)]}}}))
    write_settings(sampling={"seed": 7, "max_tokens": 40, "temperature": 0.0})
    window = open_window()
    assert window.chats is not None and window.tools is not None and window.mcp is not None
    qtbot.waitUntil(lambda: window.mcp.names == ["weather"], timeout=REPLY_TIMEOUT_MS)
    window.composer.tools_button.click()
    picker = window.tools.picker
    assert picker is not None
    qtbot.waitUntil(picker.isVisible, timeout=10_000)
    picker.server_boxes["weather"].setChecked(True)
    picker.choice.setCurrentIndex(picker.choice.findData("required"))
    picker.steps.setValue(1)
    picker.buttons.accepted.emit()
    wait_idle(qtbot, window)
    window.composer.set_text("What is the weather in Paris?")
    qtbot.mouseClick(window.composer.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(window.tool_cards.waiting_cards()),
                    timeout=2 * REPLY_TIMEOUT_MS)  # the server starts first
    card = window.tool_cards.waiting_cards()[0]
    assert "MCP server “weather”" in card.source.text()
    qtbot.mouseClick(card.allow_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: card.result.isVisible(), timeout=REPLY_TIMEOUT_MS)
    shown = f"{card.call.name}({card.call.arguments}) -> {card.result.toPlainText()!r}"
    assert card.warning.isVisible() and card.result.extraSelections(), shown
    assert "Ignore all previous instructions" in card.suspicious.text()

    def answered() -> bool:
        for extra in window.tool_cards.waiting_cards():
            extra.decide("deny")
        return not window.chats.generating  # type: ignore[union-attr]

    qtbot.waitUntil(answered, timeout=2 * REPLY_TIMEOUT_MS)
    wait_idle(qtbot, window)


def test_a_chats_tool_choice_and_step_limit_survive_a_restart(
        qtbot: QtBot, open_window: OpenWindow) -> None:
    from core.config import database_path
    from core.store import ChatStore

    store = ChatStore(database_path())
    try:
        chat = store.create_chat("tools kept")
        store.set_chat_tools(chat.id, ChatTools(builtins=["calculator"], tool_choice="none",
                                                max_steps=2))
    finally:
        store.close()
    window = open_window()
    assert window.chats is not None and window.tools is not None
    tools = window.tools
    qtbot.waitUntil(lambda: window.chats.current_chat_id == chat.id,  # type: ignore[union-attr]
                    timeout=10_000)
    qtbot.waitUntil(lambda: tools.run_settings(chat.id) == ("none", 2), timeout=10_000)
    window.composer.tools_button.click()
    picker = tools.picker
    assert picker is not None
    qtbot.waitUntil(picker.isVisible, timeout=10_000)
    assert picker.choice.currentData() == "none" and picker.steps.value() == 2
    picker.steps.setValue(4)
    picker.buttons.accepted.emit()
    wait_idle(qtbot, window)
    store = ChatStore(database_path())
    try:
        assert store.chat_tools(chat.id).max_steps == 4
    finally:
        store.close()
