"""What goes wrong with a server, each a clear message and nothing lost: a port nobody
listens on, a web page, silence, a stream cut mid-character, a flood, a model gone."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler

import pytest
from remote_fakes import MODELS, chunk, free_port, http_server, raw_stream_server, send

from core.chat import ChatSession
from core.config import database_path
from core.engine.remote import RemoteEngine
from core.engine.remote_http import NotAnApi, ResponseTooLarge
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings, TokenEvent
from core.errors import RemoteEngineError, RemoteStreamLost, RemoteTimeout
from core.store import ChatStore

HI = [ChatMessage("user", "Hi")]


def test_unreachable_port() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RemoteEngineError, match=r"Cannot reach .*Is the server running"):
        RemoteEngine(url).start()


def test_not_a_url() -> None:
    with pytest.raises(RemoteEngineError, match="not an http"):
        RemoteEngine("gpu-box:8080")


def test_a_web_page_is_not_an_api() -> None:
    def page(h: BaseHTTPRequestHandler) -> None:
        send(h, 200, b"<!doctype html><html><body>Welcome to nginx</body></html>",
             "text/html; charset=utf-8")

    with http_server(page) as url, pytest.raises(NotAnApi, match="web page"):
        RemoteEngine(url).start()


def test_a_model_removed_on_the_server() -> None:
    def gone(h: BaseHTTPRequestHandler) -> None:
        if h.path.endswith("/models"):
            send(h, 200, MODELS)
        else:
            send(h, 404, json.dumps({"error": {"message": "The model 'm1' does not exist",
                                               "type": "not_found"}}).encode())

    with http_server(gone) as url, RemoteEngine(url) as remote:
        with pytest.raises(RemoteEngineError, match="has no model 'm1'"):
            list(remote.generate(HI))


def test_a_model_the_server_does_not_list() -> None:
    with http_server(lambda h: send(h, 200, MODELS)) as url:
        with pytest.raises(RemoteEngineError, match=r"has no model 'big' \(it has: m1\)"):
            RemoteEngine(url, model="big").start()


def test_a_first_token_that_never_comes_times_out() -> None:
    with raw_stream_server(b"", silent=True) as url, \
            RemoteEngine(url, first_token_timeout_s=1.0) as remote:
        with pytest.raises(RemoteTimeout, match="sent nothing back in time"):
            list(remote.generate(HI))


def test_cancel_from_another_thread_while_waiting() -> None:
    with raw_stream_server(b"", silent=True) as url, \
            RemoteEngine(url, first_token_timeout_s=120.0) as remote:
        events = remote.generate(HI)
        threading.Timer(0.3, remote.cancel).start()
        done = list(events)[-1]
    assert isinstance(done, DoneEvent)
    assert (done.finish_reason, done.text) == ("cancelled", "")


def test_a_stream_cut_mid_character_keeps_the_reply_interrupted() -> None:
    whole = chunk("Hello ") + chunk("wörld")
    cut = chunk("ünïcode")
    # Stop inside the two bytes of "ü": the last line is not even valid UTF-8.
    stream = whole + cut[:cut.index("ü".encode()) + 1]
    with raw_stream_server(stream) as url, ChatStore(database_path()) as store, \
            RemoteEngine(url) as remote:
        chat = store.create_chat()
        session = ChatSession(store, remote)  # type: ignore[arg-type]
        seen: list[str] = []
        with pytest.raises(RemoteStreamLost, match="stopped in the middle") as lost:
            for event in session.send(chat.id, "Say hello", SamplingSettings()):
                if isinstance(event, TokenEvent):
                    seen.append(event.text)
        reply = store.messages(chat.id)[-1]
    assert "".join(seen) == lost.value.text == "Hello wörld"
    assert (reply.content, reply.status) == ("Hello wörld", "interrupted")


def test_a_stream_that_ends_without_finishing_is_lost() -> None:
    with raw_stream_server(chunk("Half a ") + chunk("reply")) as url, \
            RemoteEngine(url) as remote:
        with pytest.raises(RemoteStreamLost, match="ended before the reply did") as lost:
            list(remote.generate(HI))
    assert lost.value.text == "Half a reply"


def test_a_finished_stream_gives_its_done_event() -> None:
    stream = chunk("Hi") + chunk("!", "stop") + b"data: [DONE]\n\n"
    with raw_stream_server(stream) as url, RemoteEngine(url) as remote:
        done = list(remote.generate(HI))[-1]
    assert isinstance(done, DoneEvent)
    assert (done.text, done.finish_reason) == ("Hi!", "stop")


def test_a_100_mb_answer_is_cut_off() -> None:
    block = b" " * (1024 * 1024)

    def flood(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.end_headers()  # no length: the size shows only while reading
        try:
            h.wfile.write(b'{"object": "list", "data": [')
            for _ in range(100):
                h.wfile.write(block)
        except OSError:  # the engine hung up, as it should
            pass

    with http_server(flood) as url, pytest.raises(ResponseTooLarge, match="more than 32 MB"):
        RemoteEngine(url).start()


def test_a_server_that_refuses_the_sampling_extensions_is_asked_again_without() -> None:
    """top_k, min_p and repeat_penalty go to servers that take them (llama.cpp's names); one
    that answers 400 to unknown fields, as OpenAI's own API does, is asked again without them
    and not sent them again."""
    bodies: list[dict[str, object]] = []

    def strict(h: BaseHTTPRequestHandler) -> None:
        if h.path.endswith("/models"):
            send(h, 200, MODELS)
            return
        body = json.loads(h.body)  # type: ignore[attr-defined]
        bodies.append(body)
        extra = sorted(set(body) & {"top_k", "min_p", "repeat_penalty"})
        if extra:
            send(h, 400, json.dumps({"error": {
                "message": f"Unrecognized request argument supplied: {extra[0]}",
                "type": "invalid_request_error"}}).encode())
        else:
            send(h, 200, chunk("Hi", "stop") + b"data: [DONE]\n\n", "text/event-stream")

    sampling = SamplingSettings(temperature=0.0, top_k=40, min_p=0.05, repeat_penalty=1.1)
    with http_server(strict) as url, RemoteEngine(url) as remote:
        first = list(remote.generate(HI, sampling))[-1]
        second = list(remote.generate(HI, sampling))[-1]
    assert isinstance(first, DoneEvent) and first.text == "Hi"
    assert isinstance(second, DoneEvent) and second.text == "Hi"
    assert [sorted(set(b) & {"top_k", "min_p", "repeat_penalty"}) for b in bodies] == [
        ["min_p", "repeat_penalty", "top_k"], [], []]
    assert bodies[0]["top_k"] == 40 and bodies[0]["repeat_penalty"] == 1.1
