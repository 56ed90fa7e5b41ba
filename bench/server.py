"""The API server (`glassbox serve`) against the model without it, in the same run.

- Streamed tokens/s through the server (the official `openai` client reading SSE) against a
  bare llama-cpp-python decode loop in this process, same model, sampling and threads
  (target: ratio >= 0.95).
- Time to first token added by the server: the streamed first chunk through HTTP against the
  same request sent straight to an engine process (target: under 20 ms added).
- Four clients at once on `--parallel 2`: total tokens/s against one bare decode loop.
Rounds alternate between the sides so machine load falls on both alike.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from typing import Any

from bench._stats import figure
from bench.generation import TOKENS, Bare
from core.defaults import DEFAULT_N_CTX
from core.engine.completion_types import CompletionDone, CompletionRequest
from core.engine.runner import default_threads
from core.engine.types import ChatMessage, SamplingSettings
from core.models.bundled import default_chat_model
from core.models.load_settings import LoadSettings

PROMPT = "Write a long story about a lighthouse keeper and a storm."
ROUNDS = 5
TEMPERATURE, TOP_P = 0.7, 0.95  # what the API sends; it turns the app's other filters off
CLIENTS = 4


def _stream(client: Any, model: str, seed: int, max_tokens: int = TOKENS) -> tuple[float, float]:
    """(ms to the first content chunk, tokens/s after it) for one streamed reply."""
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=max_tokens,
        temperature=TEMPERATURE, top_p=TOP_P, seed=seed, stream=True,
        stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0
    return (first - started) * 1000.0, rate


def _raw_stream(http: Any, url: str, model: str, seed: int,
                max_tokens: int = TOKENS) -> tuple[float, float]:
    """As _stream, with a bare HTTP client reading the SSE lines: what the server itself adds,
    without the openai client's own per-chunk work (on two cores it competes with the model)."""
    body = {"model": model, "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens, "temperature": TEMPERATURE, "top_p": TOP_P, "seed": seed,
            "stream": True, "stream_options": {"include_usage": True}}
    started = time.perf_counter()
    first = last = 0.0
    tokens = 0
    with http.stream("POST", f"{url}/v1/chat/completions", json=body) as reply:
        for line in reply.iter_lines():
            if not line.startswith("data: {"):
                continue
            if '"content": "' in line and '"content": ""' not in line:
                last = time.perf_counter()
                first = first or last
            elif '"usage": {' in line:
                tokens = json.loads(line[6:])["usage"]["completion_tokens"]
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0
    return (first - started) * 1000.0, rate


def _engine_first_ms(engine: Any, seed: int) -> float:
    request = CompletionRequest(
        messages=(ChatMessage("user", PROMPT),),
        sampling=SamplingSettings(temperature=TEMPERATURE, top_k=0, top_p=TOP_P, min_p=0.0,
                                  repeat_penalty=1.0, seed=seed, max_tokens=1))
    started = time.perf_counter()
    events = engine.complete(request)
    for event in events:
        if not isinstance(event, CompletionDone) and event.text:
            elapsed = (time.perf_counter() - started) * 1000.0
            for _ in events:
                pass
            return elapsed
    return (time.perf_counter() - started) * 1000.0


def _concurrent_rate(url: str, model: str) -> float:
    """Total tokens/s of CLIENTS streaming at once."""
    import openai

    counts = [0] * CLIENTS

    def one(i: int) -> None:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="bench")
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT}], max_tokens=TOKENS,
            temperature=TEMPERATURE, top_p=TOP_P, seed=100 + i)
        counts[i] = reply.usage.completion_tokens if reply.usage else 0

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - started)


def run() -> dict[str, Any]:
    import httpx
    import openai

    from core.server.config import ServerConfig
    from core.server.local_server import LocalServer

    threads = default_threads()
    settings = LoadSettings(gpu_layers=0, n_ctx=DEFAULT_N_CTX)
    bare = Bare(threads, {"temp": TEMPERATURE, "top_k": 0, "top_p": TOP_P, "min_p": 0.0,
                           "repeat_penalty": 1.0})
    raw_rate: list[float] = []
    raw_first: list[float] = []
    served_rate: list[float] = []
    bare_rate: list[float] = []
    served_first: list[float] = []
    engine_first: list[float] = []
    together: list[float] = []
    single: list[float] = []
    try:
        with LocalServer(ServerConfig(port=0, parallel=1), load=settings) as server:
            assert server.pool is not None
            client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="bench")
            name = server.pool.name
            from core.api import start_engine
            from core.engine.loading import load_model

            with start_engine() as engine, httpx.Client(timeout=120) as http:
                load_model(engine, default_chat_model(), settings)
                _stream(client, name, 1, 8)  # warm both sides, untimed
                _raw_stream(http, server.url, name, 1, 8)
                bare.tokens_per_s(PROMPT, 1)
                for i in range(ROUNDS):
                    first, rate = _raw_stream(http, server.url, name, 10 + i)
                    raw_first.append(first)
                    raw_rate.append(rate)
                    first, rate = _stream(client, name, 10 + i)
                    served_first.append(first)
                    served_rate.append(rate)
                    bare_rate.append(bare.tokens_per_s(PROMPT, 10 + i))
                    engine_first.append(_engine_first_ms(engine, 10 + i))
        with LocalServer(ServerConfig(port=0, parallel=2), load=settings) as pair:
            assert pair.pool is not None
            for _ in range(3):
                together.append(_concurrent_rate(pair.url, pair.pool.name))
                single.append(bare.tokens_per_s(PROMPT, 7))
    finally:
        bare.close()
    added = [s - e for s, e in zip(raw_first, engine_first, strict=True)]
    return {
        "name": "server",
        "threads": threads,
        "cores": os.cpu_count(),
        "figures": [
            figure(f"streamed tokens/s through `glassbox serve` (SSE read by a bare HTTP "
                   f"client), {TOKENS} tokens", raw_rate, bare_rate,
                   f"bare `Llama.generate` loop in the bench process, same sampling, "
                   f"{threads} threads", unit="tokens/s", higher_is_better=True,
                   target_ratio=0.95),
            figure(f"streamed tokens/s through `glassbox serve`, read by the openai client, "
                   f"{TOKENS} tokens", served_rate, bare_rate,
                   "the same bare decode loop (the client's own parsing shares the cores)",
                   unit="tokens/s", higher_is_better=True),
            figure("time to first token through the server (HTTP, JSON, SSE; bare HTTP "
                   "client)", raw_first, engine_first,
                   "the same request sent straight to an engine process", target_ms=20.0,
                   target_is="added", glassbox_added=round(statistics.median(added), 2),
                   openai_client_ms=round(statistics.median(served_first), 2)),
            figure(f"{CLIENTS} clients at once, --parallel 2: total tokens/s", together,
                   single, "one bare decode loop (all cores)", unit="tokens/s",
                   higher_is_better=True),
        ],
    }
