"""ChatSession: the conversation is stored as it happens, whatever happens to the reply."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.chat import ChatSession, ReplyStarted, title_from
from core.engine.client import EngineClient
from core.engine.types import DoneEvent, SamplingSettings, TokenEvent
from core.errors import EngineCrashed, PromptError
from core.store import ChatStore

FAST = SamplingSettings(seed=5, max_tokens=16)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "chats.sqlite3")
    yield s
    s.close()


def test_send_stores_both_sides_and_titles_the_chat(store: ChatStore,
                                                    engine: EngineClient) -> None:
    session = ChatSession(store, engine)
    chat = store.create_chat()
    events = list(session.send(chat.id, "What is a token?\nAnswer briefly.", FAST))
    started, *tokens, done = events
    assert isinstance(started, ReplyStarted) and isinstance(done, DoneEvent)
    assert all(isinstance(t, TokenEvent) for t in tokens)
    user, reply = store.messages(chat.id)
    assert (user.role, user.content, user.status) == ("user", "What is a token?\nAnswer briefly.",
                                                      "complete")
    assert (reply.role, reply.status, reply.id) == ("assistant", "complete",
                                                    started.reply_message_id)
    assert reply.content == done.text != ""
    assert reply.stats is not None and reply.stats["completion_tokens"] == 16
    assert store.get_chat(chat.id).title == "What is a token?"


def test_history_and_system_prompt_reach_the_model(store: ChatStore,
                                                   engine: EngineClient) -> None:
    session = ChatSession(store, engine)
    chat = store.create_chat(system_prompt="You are a pirate.")
    first = list(session.send(chat.id, "Hello", FAST))[-1]
    second = list(session.send(chat.id, "And again", FAST))[-1]
    assert isinstance(first, DoneEvent) and isinstance(second, DoneEvent)
    assert second.stats.prompt_tokens > first.stats.prompt_tokens + first.stats.completion_tokens


def test_regenerate_shows_a_new_reply_and_keeps_the_old_one(store: ChatStore,
                                                             engine: EngineClient) -> None:
    session = ChatSession(store, engine)
    chat = store.create_chat()
    list(session.send(chat.id, "Name a fruit.", SamplingSettings(seed=1, max_tokens=12)))
    old = store.messages(chat.id)[-1]
    list(session.regenerate(chat.id, SamplingSettings(seed=2, max_tokens=12)))
    msgs = store.messages(chat.id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[-1].id != old.id
    assert msgs[-1].siblings == (old.id, msgs[-1].id)
    assert store.get_message(old.id).content == old.content


def test_edit_last_user_message_and_resend(store: ChatStore, engine: EngineClient) -> None:
    session = ChatSession(store, engine)
    chat = store.create_chat()
    list(session.send(chat.id, "Name a fruit.", FAST))
    list(session.edit_last_user(chat.id, "Name a vegetable.", FAST))
    msgs = store.messages(chat.id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[0].content == "Name a vegetable."
    assert msgs[0].branch_position == (2, 2)  # the fruit question stays as branch 1
    assert len(store.all_messages(chat.id)) == 4


def test_cancel_keeps_the_partial_reply_marked_interrupted(store: ChatStore,
                                                          engine: EngineClient) -> None:
    session = ChatSession(store, engine)
    chat = store.create_chat()
    seen = 0
    for event in session.send(chat.id, "Write a long story.", SamplingSettings(max_tokens=400)):
        seen += isinstance(event, TokenEvent)
        if seen == 3:
            engine.cancel()
    reply = store.messages(chat.id)[-1]
    assert reply.status == "interrupted" and reply.content


def test_refused_prompt_is_not_kept(store: ChatStore, own_engine: EngineClient) -> None:
    session = ChatSession(store, own_engine)
    chat = store.create_chat()
    with pytest.raises(PromptError, match="too long"):
        list(session.send(chat.id, "word " * 3000, FAST))
    with pytest.raises(PromptError, match="empty"):
        list(session.send(chat.id, "  ", FAST))
    assert store.messages(chat.id) == []


def test_engine_crash_keeps_history_and_the_partial_reply(store: ChatStore,
                                                          own_engine: EngineClient) -> None:
    session = ChatSession(store, own_engine)
    chat = store.create_chat()
    list(session.send(chat.id, "Hello", FAST))
    events = session.send(chat.id, "Write a long story.", SamplingSettings(max_tokens=400))
    for event in events:
        if isinstance(event, TokenEvent):
            break
    assert own_engine.pid is not None
    os.kill(own_engine.pid, signal.SIGKILL)
    with pytest.raises(EngineCrashed):
        list(events)
    msgs = store.messages(chat.id)
    assert [m.status for m in msgs] == ["complete", "complete", "complete", "interrupted"]
    assert msgs[-1].content


def test_title_from_first_line() -> None:
    assert title_from("  Hello\nworld") == "Hello"
    long = "word " * 30
    assert title_from(long).endswith("…") and len(title_from(long)) <= 49
    assert title_from("\n") == "New chat"
