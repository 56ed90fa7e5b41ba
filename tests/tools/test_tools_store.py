"""Tools in a saved chat: the chat's tool settings, the agent trace stored with the reply (and
exported, imported, kept across reopening the database), "always allow" remembered, and a
reply with tools ending like any reply (TokenEvent, DoneEvent)."""

from __future__ import annotations

import sys
from pathlib import Path

import apsw

sys.path.insert(0, str(Path(__file__).parent))

from agent_helpers import GREEDY, Consent, strict_calculator  # noqa: E402

from core.chat import ChatSession, ReplyStarted  # noqa: E402
from core.engine.client import EngineClient  # noqa: E402
from core.engine.types import DoneEvent, TokenEvent  # noqa: E402
from core.store import ChatStore  # noqa: E402
from core.store.export import chat_to_json, import_chat  # noqa: E402
from core.tools.builtins import BuiltinTool  # noqa: E402
from core.tools.toolbox import Toolbox  # noqa: E402
from core.tools.types import (  # noqa: E402
    AgentFinished,
    AgentStep,
    AgentTrace,
    CallProposed,
    ChatTools,
    StepFinished,
    ToolSpec,
)


def a_trace() -> AgentTrace:
    spec = ToolSpec("calculator", "Arithmetic.", {"type": "object"})
    from core.engine.types import ChatMessage
    from core.tools.types import ToolCall, ToolOutcome

    call = ToolCall(0, "calculator", {"expression": "2 + 2"}, '{"name": "calculator"}')
    step = AgentStep(0, "<prompt>", (ChatMessage("user", "2+2?"),), '{"name": "calculator"}',
                     (0, 22), call, "allow_once", ToolOutcome("4", suspicious=("x",)), 10, 5,
                     0.5)
    return AgentTrace((spec,), (step, AgentStep(1, "<p2>", (), "It is 4.")), "It is 4.",
                      "answer", protocol="generic")


def test_tool_settings_and_traces_are_stored_exported_and_kept(tmp_path: Path) -> None:
    db = tmp_path / "chats.sqlite3"
    settings = ChatTools(builtins=["calculator", "read_file"], always_allowed=["calculator"],
                         allowed_folders=[str(tmp_path)], tool_choice="required", max_steps=3)
    with ChatStore(db) as store:
        chat = store.create_chat("tools")
        assert store.chat_tools(chat.id) == ChatTools() and not ChatTools().enabled
        store.set_chat_tools(chat.id, settings)
        store.add_message(chat.id, "user", "2+2?")
        reply = store.add_message(chat.id, "assistant", "It is 4.")
        assert reply.agent_trace is None
        store.set_message_agent_trace(reply.id, a_trace().to_json())
        exported = chat_to_json(store, chat.id)
    with ChatStore(db) as store:  # reopened: all of it is still there
        assert store.chat_tools(chat.id) == settings and settings.enabled
        stored = store.messages(chat.id)[-1].agent_trace
        assert stored is not None and AgentTrace.from_json(stored) == a_trace()
        copy = import_chat(store, exported)
        assert AgentTrace.from_json(store.messages(copy.id)[-1].agent_trace or {}) == a_trace()
    raw = apsw.Connection(str(db))
    raw.execute("UPDATE chats SET tools = 'not json' WHERE id = ?", (chat.id,))
    raw.close()
    with ChatStore(db) as store:  # damaged settings turn tools off, nothing else is lost
        assert store.chat_tools(chat.id) == ChatTools()
        assert len(store.messages(chat.id)) == 2
    raw = apsw.Connection(str(db))
    raw.execute("UPDATE chats SET tools = ? WHERE id = ?", (
        '{"builtins": ["calculator"], "tool_choice": 7, "max_steps": 100000}', chat.id))
    raw.close()
    with ChatStore(db) as store:  # a damaged choice or limit reads as the default
        tools = store.chat_tools(chat.id)
        assert tools.builtins == ["calculator"]
        assert (tools.tool_choice, tools.max_steps) == (ChatTools().tool_choice,
                                                        ChatTools().max_steps)


def test_a_chat_with_tools_replies_through_the_agent_and_keeps_its_trace(
        engine: EngineClient, tmp_path: Path) -> None:
    db = tmp_path / "chats.sqlite3"
    made: list[ChatTools] = []

    def toolbox_for(tools: ChatTools) -> Toolbox:
        made.append(tools)
        return Toolbox([strict_calculator()])

    consent = Consent("allow_always")
    with ChatStore(db) as store:
        chat = store.create_chat()
        store.set_chat_tools(chat.id, ChatTools(builtins=["calculator"]))
        session = ChatSession(store, engine, toolbox_for=toolbox_for, max_steps=1)
        events = list(session.send(chat.id, "Use the calculator: what is 9 * 8?", GREEDY,
                                   consent=consent, tool_choice="calculator"))
        started = [e for e in events if isinstance(e, ReplyStarted)]
        assert len(started) == 1 and made == [ChatTools(builtins=["calculator"])]
        assert any(isinstance(e, CallProposed) for e in events)
        assert any(isinstance(e, StepFinished) for e in events)
        trace = [e for e in events if isinstance(e, AgentFinished)][0].trace
        done = events[-1]
        assert isinstance(done, DoneEvent) and done.text == trace.final_text
        tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
        assert tokens == trace.final_text  # the call's JSON is not shown as the reply
        assert done.stats.completion_tokens == sum(s.completion_tokens for s in trace.steps)
    with ChatStore(db) as store:
        user, reply = store.messages(chat.id)
        assert reply.id == started[0].reply_message_id and reply.content == trace.final_text
        assert reply.status == "complete" and reply.stats is not None
        assert AgentTrace.from_json(reply.agent_trace or {}) == trace
        # "Always for this tool in this chat" outlives the session.
        assert store.chat_tools(chat.id).always_allowed == ["calculator"]


def test_tools_off_or_broken_leave_the_chat_as_it_was(engine: EngineClient,
                                                      tmp_path: Path) -> None:
    import pytest

    from core.errors import ToolSchemaError

    bad = BuiltinTool(ToolSpec("lookup", "", {"$ref": "https://example.com/x.json"}),
                      lambda a: "")
    with ChatStore(tmp_path / "chats.sqlite3") as store:
        chat = store.create_chat()
        store.set_chat_tools(chat.id, ChatTools(builtins=["calculator"]))
        session = ChatSession(store, engine, toolbox_for=lambda tools: Toolbox([bad]))
        with pytest.raises(ToolSchemaError, match="'lookup'"):
            list(session.send(chat.id, "hi", GREEDY))
        assert store.messages(chat.id) == []  # the message is taken back, no empty reply
        store.set_chat_tools(chat.id, ChatTools())  # tools off: a plain reply, no trace
        events = list(session.send(chat.id, "Say hi.", GREEDY))
        assert not any(isinstance(e, AgentFinished) for e in events)
        assert store.messages(chat.id)[-1].agent_trace is None
