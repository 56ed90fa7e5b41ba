"""A remote engine against `glassbox serve` (LocalServer on 127.0.0.1): the same greedy text as
the local engine, a key it must send, a chat stored through ChatSession like a local one.

`glassbox serve` turns off the app's extra filters when a client sets the temperature (OpenAI
applies none: top_k 0, min_p 0, repeat_penalty 1), so the local side is given the same.
"""

from __future__ import annotations

import pytest

from core.chat import ChatSession
from core.config import database_path
from core.engine.client import EngineClient
from core.engine.remote import RemoteEngine
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.errors import NeedsLocalModel, RemoteAuthError
from core.server.config import ServerConfig
from core.server.local_server import LocalServer
from core.store import ChatStore

QUESTION = [ChatMessage("system", "You are a helpful assistant."),
            ChatMessage("user", "Name three colours.")]
REMOTE = SamplingSettings(temperature=0.0, max_tokens=40, seed=3)
LOCAL = SamplingSettings(temperature=0.0, max_tokens=40, seed=3, top_k=0, min_p=0.0,
                         repeat_penalty=1.0)


def _text(events: object) -> str:
    done = list(events)[-1]  # type: ignore[call-overload]
    assert isinstance(done, DoneEvent)
    return done.text


def test_greedy_text_matches_the_local_engine(glassbox_server: LocalServer,
                                              engine: EngineClient) -> None:
    with RemoteEngine(glassbox_server.url) as remote:
        text = _text(remote.generate(QUESTION, REMOTE))
    assert text.strip()
    assert text == _text(engine.generate(QUESTION, LOCAL))


def test_a_chat_is_stored_as_with_a_local_engine(glassbox_server: LocalServer) -> None:
    with ChatStore(database_path()) as store, RemoteEngine(glassbox_server.url) as remote:
        chat = store.create_chat()
        events = list(ChatSession(store, remote).send(chat.id, "Hi there!",  # type: ignore[arg-type]
                                                     SamplingSettings(temperature=0.0,
                                                                      max_tokens=12)))
        done = events[-1]
        assert isinstance(done, DoneEvent)
        reply = store.messages(chat.id)[-1]
        assert (reply.role, reply.content, reply.status) == ("assistant", done.text, "complete")


def test_surprise_from_echoed_logprobs(glassbox_server: LocalServer,
                                       engine: EngineClient) -> None:
    text = "The cat sat on the mat."
    with RemoteEngine(glassbox_server.url) as remote:
        view = remote.surprise(text, top=3)
    local = engine.surprise(text, top=3)
    assert [t.piece for t in view.tokens] == [t.piece for t in local.tokens][-len(view.tokens):]
    assert view.perplexity == pytest.approx(local.perplexity, rel=0.05)


def test_no_tokenize_endpoint_says_so(glassbox_server: LocalServer) -> None:
    with RemoteEngine(glassbox_server.url) as remote:
        with pytest.raises(NeedsLocalModel, match="no tokenize endpoint"):
            remote.tokenize("Hello")
        assert remote.count_tokens("Hello world!") >= 1  # estimated: budgets still work


def test_wrong_key_is_refused_and_the_right_one_works() -> None:
    with LocalServer(ServerConfig(port=0, api_key="right-key")) as srv:
        with pytest.raises(RemoteAuthError, match="refused the API key.*401"):
            RemoteEngine(srv.url, api_key="wrong-key").start()
        with pytest.raises(RemoteAuthError):
            RemoteEngine(srv.url).start()
        with RemoteEngine(srv.url, api_key="right-key") as remote:
            assert _text(remote.generate(QUESTION, SamplingSettings(temperature=0.0,
                                                                    max_tokens=3)))
