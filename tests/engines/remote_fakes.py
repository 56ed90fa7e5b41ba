"""Tiny servers on 127.0.0.1 that misbehave on purpose: what a real model server never does
on a good day, and a remote engine must survive (a web page, silence, a cut stream, a flood).

Each runs in a daemon thread of the test process and is closed by the test's `with`.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


@contextmanager
def http_server(route: Route) -> Iterator[str]:
    """An http.server whose every GET and POST is answered by `route`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route(self)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.body = self.rfile.read(length)  # type: ignore[attr-defined]
            route(self)

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
         kind: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("content-type", kind)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


MODELS = json.dumps({"object": "list", "data": [{"id": "m1", "object": "model"}]}).encode()


def chunk(text: str, finish: str | None = None) -> bytes:
    event = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m1",
             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


@contextmanager
def raw_stream_server(stream: bytes, silent: bool = False) -> Iterator[str]:
    """Answers /v1/models properly; a chat request gets `stream` raw (HTTP/1.0 style: the
    body ends when the socket closes), then the connection is closed. `silent`: the chat
    request gets nothing at all until the test ends (a first token that never comes)."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                part = conn.recv(65536)
                if not part:
                    return
                request += part
            head, _, body = request.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
            if b"/models" in head.split(b"\r\n")[0]:
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(MODELS)).encode() +
                             b"\r\nconnection: close\r\n\r\n" + MODELS)
                return
            if silent:
                done.wait(60)
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                         b"connection: close\r\n\r\n" + stream)

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        thread.join(5)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
