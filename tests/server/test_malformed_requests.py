"""Raw HTTP that no well-behaved client sends: each gets an OpenAI-shaped error (or a bounded
wait), and the server goes on serving."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import WAIT_S, assert_openai_error, model_name, serving, wait_for_record

from core.server.local_server import LocalServer

CHAT = "/v1/chat/completions"
LONG_REPLY = [{"role": "user", "content": "Count from 1 to 500, one number per line."}]


def hello(server: LocalServer, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model_name(server), "max_tokens": 4,
                            "messages": [{"role": "user", "content": "Hi"}]}
    body.update(fields)
    return body


def assert_still_serving(http: httpx.Client, server: LocalServer) -> None:
    reply = http.post(CHAT, json=hello(server))
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] is not None


def raw_request(server: LocalServer, head: str, body: bytes = b"") -> socket.socket:
    """A connection with a request written and nothing read."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
    sock.sendall(head.encode("ascii") + body)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    return int(head.split()[1]), json.loads(rest[:length])


@pytest.mark.parametrize(("body", "param"), [
    (b'{"messages": [', None),
    (b"\xff\xfe not utf-8", None),
    (b'"just a string"', None),
])
def test_not_json_is_400(http: httpx.Client, server: LocalServer, body: bytes,
                         param: str | None) -> None:
    reply = http.post(CHAT, content=body, headers={"content-type": "application/json"})
    assert_openai_error(reply, 400, param)
    assert_still_serving(http, server)


@pytest.mark.parametrize(("fields", "param"), [
    ({"messages": "hello"}, "messages"),
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": 5}, "temperature"),
    ({"max_tokens": "ten"}, "max_tokens"),
    ({"stream": {"yes": 1}}, "stream"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages.0.role"),
    ({"messages": [{"role": "user", "content": 42}]}, "messages.0.content.str"),
    ({"messages": []}, "messages"),
])
def test_wrong_types_are_400(http: httpx.Client, server: LocalServer, fields: dict[str, Any],
                             param: str) -> None:
    assert_openai_error(http.post(CHAT, json=hello(server, **fields)), 400, param)


def test_missing_messages_is_400(http: httpx.Client, server: LocalServer) -> None:
    body = hello(server)
    del body["messages"]
    error = assert_openai_error(http.post(CHAT, json=body), 400, "messages")
    assert "messages" in error["message"]


def test_unknown_route_is_404(http: httpx.Client) -> None:
    assert_openai_error(http.post("/v1/chat/completion", json={}), 404)
    assert_openai_error(http.get("/v2/models"), 404)


def test_a_10_mb_body_is_413_and_the_next_request_is_served(http: httpx.Client,
                                                            server: LocalServer) -> None:
    prompt = "word " * (2 * 1024 * 1024)  # 10 MiB of text
    body = json.dumps(hello(server, messages=[{"role": "user", "content": prompt}])).encode()
    # Declared length: refused before the body is read.
    sock = raw_request(server, f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                       f"application/json\r\nContent-Length: {len(body)}\r\n\r\n", body[:1024])
    with sock:
        status, payload = read_response(sock)
    assert status == 413
    assert payload["error"]["code"] == "request_too_large"
    # The whole body sent by a client.
    try:
        reply = http.post(CHAT, content=body, headers={"content-type": "application/json"})
    except httpx.TransportError:  # the server may close before the client has sent it all
        pass
    else:
        assert_openai_error(reply, 413)
    assert_still_serving(http, server)


def test_a_chunked_body_over_the_limit_is_413(http: httpx.Client, server: LocalServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(6):
            yield b"x" * (1024 * 1024)
        yield b'"}]}'

    try:
        reply = http.post(CHAT, content=chunks(), headers={"content-type": "application/json"})
    except httpx.TransportError:
        reply = None
    if reply is not None:
        assert "content-length" not in {k.lower() for k in reply.request.headers}
        assert_openai_error(reply, 413)
    record = wait_for_record(server, lambda r: r.path == CHAT and r.status == 413)
    assert record.method == "POST"
    assert_still_serving(http, server)


def test_unicode_and_emoji_prompts(http: httpx.Client, server: LocalServer) -> None:
    text = "Ünïcødé ✓ 日本語 — 🤖🧪 صباح الخير"
    reply = http.post(CHAT, json=hello(server, messages=[{"role": "user", "content": text}]))
    assert reply.status_code == 200, reply.text
    assert isinstance(reply.json()["choices"][0]["message"]["content"], str)
    record = server.log.recent()[0]
    assert record.messages[0]["content"] == text
    assert text in record.prompt  # the model read exactly what was sent


def test_a_client_that_leaves_mid_stream_frees_the_engine(http: httpx.Client,
                                                          server: LocalServer) -> None:
    body = hello(server, messages=LONG_REPLY, max_tokens=2000, stream=True)
    with http.stream("POST", CHAT, json=body) as stream:
        assert stream.status_code == 200
        contents = 0
        for line in stream.iter_lines():
            if line.startswith("data: ") and '"content": "' in line:
                contents += 1
            if contents >= 3:
                break  # leaves with the reply under way
    left = wait_for_record(server, lambda r: r.stream and r.finish_reason == "cancelled")
    assert left.path == CHAT
    assert_still_serving(http, server)
    assert http.get("/health").json()["waiting"] == 0


def test_a_client_that_gives_up_waiting_frees_the_engine(http: httpx.Client,
                                                        server: LocalServer) -> None:
    """Not streamed: the client times out and hangs up; its generation stops too."""
    # 400 numbers at the least: the model cannot finish before the client gives up.
    endless = {"type": "json_schema", "json_schema": {"name": "numbers", "schema": {
        "type": "array", "items": {"type": "integer"}, "minItems": 400}}}
    body = hello(server, max_tokens=4000, response_format=endless)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.url + CHAT, json=body, timeout=httpx.Timeout(WAIT_S, read=2.0))
    left = wait_for_record(server, lambda r: not r.stream and r.status == 499)
    assert left.finish_reason == "cancelled"
    assert_still_serving(http, server)
    assert http.get("/health").json()["waiting"] == 0


def test_a_client_that_never_reads_leaves_the_server_up(http: httpx.Client,
                                                        server: LocalServer) -> None:
    """One engine: the stuck stream holds its engine only while the model writes its reply
    (max_tokens bounds it), so the next request waits a bounded time."""
    body = json.dumps(hello(server, messages=LONG_REPLY, max_tokens=200, stream=True)).encode()
    with raw_request(server, f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(body)}\r\n\r\n", body):
        assert http.get("/health").status_code == 200
        assert_still_serving(http, server)


def test_with_two_engines_others_are_served_beside_a_stuck_stream(tmp_path: Path) -> None:
    with serving(tmp_path / "home", parallel=2) as server, \
            httpx.Client(base_url=server.url, timeout=WAIT_S) as http:
        body = json.dumps(hello(server, messages=LONG_REPLY, max_tokens=400,
                                stream=True)).encode()
        with raw_request(server, f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         f"application/json\r\nContent-Length: {len(body)}\r\n\r\n", body):
            for _ in range(2):
                assert_still_serving(http, server)
            assert http.get("/health").json()["engines"] == 2


def test_a_full_queue_is_429_for_streams_too(tmp_path: Path) -> None:
    """No waiting room: while the one engine writes a reply, others are told to come back
    (as a status, before any stream starts), and served once it is free."""
    with serving(tmp_path / "home", max_queue=0) as server, \
            httpx.Client(base_url=server.url, timeout=WAIT_S) as http:
        body = json.dumps(hello(server, messages=LONG_REPLY, max_tokens=300,
                                stream=True)).encode()
        with raw_request(server, f"POST {CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         f"application/json\r\nContent-Length: {len(body)}\r\n\r\n",
                         body) as busy:
            seen = b""
            while b"data: " not in seen:  # the engine is writing its reply
                chunk = busy.recv(65536)
                assert chunk, seen
                seen += chunk
            for stream in (False, True):
                error = assert_openai_error(http.post(CHAT, json=hello(server, stream=stream)),
                                            429)
                assert error["code"] == "queue_full"
        # The stuck stream's engine comes back once it has stopped (429 until then).
        deadline = time.monotonic() + WAIT_S
        while (reply := http.post(CHAT, json=hello(server))).status_code == 429 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reply.status_code == 200, reply.text
