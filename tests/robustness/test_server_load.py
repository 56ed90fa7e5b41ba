"""The API server under load: 8 clients at once, streaming and not, against two engines.

Short under `make test` (a few dozen requests); `make stress` runs the issue's 1,000. Every
request must succeed, and the engines' memory must end where it started (after a warm-up
round that lets llama.cpp and the allocator settle).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest
from stress_level import record, trials

from core.server.config import ServerConfig
from core.server.local_server import LocalServer

pytestmark = [pytest.mark.stress, pytest.mark.timeout(3600)]

CLIENTS = 8
REQUESTS = trials(short=32, full=1000)
MAX_TOKENS = 8
# The engines may keep a little more after the run than after the warm-up (allocator
# arenas, the KV cache's high-water mark); a leak per request would be far beyond this.
MEMORY_SLACK_MB = 64


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with LocalServer(ServerConfig(port=0, parallel=2, max_queue=64)) as srv:
        yield srv


def _rss_mb(pids: list[int]) -> float:
    return sum(psutil.Process(pid).memory_info().rss for pid in pids) / 1e6


def _one(client: httpx.Client, url: str, model: str, n: int) -> None:
    body = {"model": model, "max_tokens": MAX_TOKENS, "temperature": 0.7, "seed": n,
            "messages": [{"role": "user", "content": f"Say something about the number {n}."}]}
    if n % 2:
        body["stream"] = True
        with client.stream("POST", f"{url}/v1/chat/completions", json=body) as reply:
            assert reply.status_code == 200, reply.read()
            lines = [line for line in reply.iter_lines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]"
        last = json.loads(lines[-2][6:])
        assert last["choices"][0]["finish_reason"] in ("stop", "length"), last
    else:
        reply = client.post(f"{url}/v1/chat/completions", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["usage"]["completion_tokens"] <= MAX_TOKENS


def _run(server: LocalServer, count: int) -> tuple[int, list[str], float]:
    numbers = iter(range(count))
    lock = threading.Lock()
    errors: list[str] = []
    done = 0
    model = server.pool.name if server.pool else ""

    def client_loop() -> None:
        nonlocal done
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    n = next(numbers, None)
                if n is None:
                    return
                try:
                    _one(client, server.url, model, n)
                    with lock:
                        done += 1
                except Exception as exc:  # every failure is counted and shown
                    with lock:
                        errors.append(f"request {n}: {type(exc).__name__}: {exc}")

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done, errors, time.perf_counter() - started


def test_eight_clients_mixed_streaming_no_errors_memory_flat(server: LocalServer) -> None:
    assert server.pool is not None
    pids = server.pool.pids
    assert len(pids) == 2
    _run(server, CLIENTS * 2)  # warm-up: both engines serve, caches reach their size
    before = _rss_mb(pids)
    random.seed(0)
    done, errors, elapsed = _run(server, REQUESTS)
    after = _rss_mb(pids)
    record("server_load", {"clients": CLIENTS, "requests": REQUESTS, "ok": done,
                           "errors": len(errors), "seconds": round(elapsed, 1),
                           "engines_rss_mb_before": round(before), "engines_rss_mb_after":
                           round(after), "requests_per_s": round(done / elapsed, 2)})
    assert errors == [], errors[:5]
    assert done == REQUESTS
    assert after - before < MEMORY_SLACK_MB, (before, after)
    # The server is still healthy and every request is in the log.
    health = httpx.get(f"{server.url}/health", timeout=10).json()
    assert health["status"] == "ok" and health["waiting"] == 0
    assert sum(1 for r in server.log.recent() if r.path == "/v1/chat/completions"
               and r.status == 200) >= min(REQUESTS, 150)
