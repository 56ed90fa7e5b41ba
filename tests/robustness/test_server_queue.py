"""The server's queue: a request beyond the waiting limit is refused at once with 429 in
OpenAI's shape, and a client that leaves mid-stream frees the engine for the next one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from core.server.config import ServerConfig
from core.server.local_server import LocalServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig(port=0, parallel=1, max_queue=1)) as srv:
        yield srv


def _wait_for(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_full_queue_answers_429_and_a_dropped_stream_frees_the_engine(
        server: LocalServer) -> None:
    assert server.pool is not None
    url = f"{server.url}/v1/chat/completions"
    long_body = {"messages": [{"role": "user", "content": "Tell a very long story."}],
                 "max_tokens": 2000, "stream": True}
    short_body = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    waiting_result: dict[str, object] = {}

    with httpx.Client(timeout=120) as holder, holder.stream("POST", url, json=long_body) as s:
        lines = s.iter_lines()
        assert next(line for line in lines if line.startswith("data: "))  # engine is busy

        def wait_in_queue() -> None:
            reply = httpx.post(url, json=short_body, timeout=120)
            waiting_result["status"] = reply.status_code

        waiter = threading.Thread(target=wait_in_queue)
        waiter.start()
        _wait_for(lambda: server.pool is not None and server.pool.waiting == 1)

        refused = httpx.post(url, json=short_body, timeout=30)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "queue_full"
        assert "waiting" in error["message"]
        # Leaving the `with` drops the stream mid-reply: the engine must be freed for the
        # waiting request, long before the 2,000 tokens would have been written.
    waiter.join(timeout=120)
    assert waiting_result.get("status") == 200
    dropped = next(r for r in server.log.recent() if r.stream)
    assert dropped.completion_tokens < 2000
    assert dropped.finish_reason == "cancelled"
