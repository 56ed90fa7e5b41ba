"""Hostile model files: each gets a clear error from the engine and the CLI; the app lives on.

Crafted headers are the kinds of file behind llama.cpp's GGUF CVEs of 2024-2026 (absurd counts,
huge strings, zero or too many dimensions, wrong array types, a block_count no model has); the
mutation fuzzer damages the real model's header at random and runs each file through the engine
child, as the window and the CLI do.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_gguf import Header, crafted, mutate_bytes, plain_files, read_header, serialize, write
from stress_level import ROOT, record, trials

from core.engine.client import EngineClient
from core.engine.types import ChatMessage, SamplingSettings
from core.errors import EngineCrashed, GlassboxError, ModelLoadError, PromptError
from core.models.bundled import default_chat_model

# Files whose header is sound enough to load: they must then fail clearly or work.
MAY_LOAD = {"hostile chat template"}
QUICK = SamplingSettings(max_tokens=4, seed=1)


@pytest.fixture(scope="module")
def real_header() -> Header:
    return read_header(default_chat_model())


@pytest.fixture(scope="module")
def hostile_engine() -> Iterator[EngineClient]:
    client = EngineClient()
    client.load(default_chat_model(), n_ctx=512)
    yield client
    client.close()


def assert_engine_still_works(engine: EngineClient) -> None:
    engine.load(default_chat_model(), n_ctx=512)
    done = list(engine.generate([ChatMessage("user", "hi")], QUICK))[-1]
    assert done.stats.completion_tokens >= 1


def test_every_crafted_header_is_refused_or_harmless(
        tmp_path: Path, real_header: Header, hostile_engine: EngineClient) -> None:
    outcomes: dict[str, str] = {}
    for name, make in crafted(real_header).items():
        path = write(tmp_path / f"{name.replace(' ', '_')}.gguf", make())
        try:
            hostile_engine.load(path, n_ctx=512)
        except ModelLoadError as exc:
            assert path.name in str(exc), str(exc)  # the message names the file
            outcomes[name] = "refused"
            continue
        assert name in MAY_LOAD, f"{name}: loaded a file that should have been refused"
        try:  # it loaded: a reply must work or fail with a message, never hang or crash
            list(hostile_engine.generate([ChatMessage("user", "hi")], QUICK))
            outcomes[name] = "loaded, replied"
        except PromptError as exc:
            assert "chat template" in str(exc)
            outcomes[name] = "loaded, template stopped"
    assert outcomes["hostile chat template"] == "loaded, template stopped"
    # The CVE-class files never reach llama.cpp: the header check names what is wrong.
    for name in ("absurd tensor count", "huge key string length", "huge array count",
                 "zero dimension", "wrong array type for tokens", "block_count beyond any model"):
        assert outcomes[name] == "refused"
    assert_engine_still_works(hostile_engine)


@pytest.mark.parametrize("name", sorted(plain_files(random.Random(0))))
def test_files_that_are_not_models_get_a_clear_error(name: str, tmp_path: Path,
                                                     hostile_engine: EngineClient) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(plain_files(random.Random(0))[name])
    with pytest.raises(ModelLoadError, match="model.gguf"):
        hostile_engine.load(path, n_ctx=512)


def test_a_context_far_beyond_memory_is_refused_before_llama_cpp(
        hostile_engine: EngineClient) -> None:
    with pytest.raises(ModelLoadError, match="smaller context"):
        hostile_engine.load(default_chat_model(), n_ctx=2**24)
    assert_engine_still_works(hostile_engine)


def test_a_crash_while_loading_names_the_file(tmp_path: Path) -> None:
    # SIGABRT in the child during a load, as llama.cpp's asserts do: the client says which
    # file was loading and starts a fresh child on the next request.
    client = EngineClient()
    try:
        client.load(default_chat_model(), n_ctx=512)
        # The client is waiting on a load when the child dies. The child is given no request
        # it could answer first, so the abort is the only thing the client can see.
        client._loading = str(tmp_path / "evil.gguf")
        assert client.pid is not None
        os.kill(client.pid, signal.SIGABRT)  # as llama.cpp's abort() would
        with pytest.raises(EngineCrashed, match="crashed while loading evil.gguf.*SIGABRT"):
            client._receive()
        assert_engine_still_works(client)
    finally:
        client.close()


def truncations(model: Path, rng: random.Random, count: int) -> Iterator[tuple[bytes, int]]:
    """Cuts of the real model, as (bytes to write, file size): most inside the header; the
    deeper ones keep the header and leave the rest of the cut file sparse."""
    head = model.read_bytes()[: 2 << 20]
    size = model.stat().st_size
    for _ in range(count):
        cut = rng.randrange(size) if rng.random() < 0.2 else rng.randrange(len(head))
        yield head[:cut], cut


def test_cli_reports_a_hostile_model_and_exits(tmp_path: Path, real_header: Header) -> None:
    path = write(tmp_path / "evil.gguf", crafted(real_header)["block_count beyond any model"]())
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "ask", "--model", str(path), "hi"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode != 0
    assert "evil.gguf" in result.stderr and "block_count" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.stress
def test_model_file_fuzz(tmp_path: Path, real_header: Header,
                         hostile_engine: EngineClient) -> None:
    rng = random.Random(31337)
    body = serialize(real_header)
    outcomes: Counter[str] = Counter()
    slowest = 0.0
    n_mutations, n_cuts = trials(short=60, full=3000), trials(short=30, full=1000)
    path = tmp_path / "fuzz.gguf"
    cases: list[tuple[bytes, int]] = []  # (bytes to write, file size: the rest is sparse)
    for _ in range(n_mutations):  # a damaged header before a weights region of the right size
        damaged = mutate_bytes(body, rng)
        cases.append((damaged, len(damaged) + 32 + real_header.data_size))
    cases.extend(truncations(default_chat_model(), rng, n_cuts))
    cases.extend((data, len(data)) for data in plain_files(rng).values())
    for data, size in cases:
        with path.open("wb") as f:
            f.write(data)
            f.truncate(size)
        started = time.monotonic()
        try:
            hostile_engine.load(path, n_ctx=512)
            outcomes["loaded"] += 1
        except EngineCrashed as exc:
            assert "fuzz.gguf" in str(exc)
            outcomes["llama.cpp crashed (child restarted)"] += 1
        except ModelLoadError as exc:
            assert "fuzz.gguf" in str(exc), str(exc)
            outcomes["refused by header check" if "llama.cpp" not in str(exc)
                     else "refused by llama.cpp"] += 1
        except GlassboxError as exc:  # any other typed error still reads as a message
            outcomes[type(exc).__name__] += 1
        slowest = max(slowest, time.monotonic() - started)
    assert sum(outcomes.values()) == len(cases)
    assert_engine_still_works(hostile_engine)
    record("model_fuzz", {
        "files": len(cases) + len(crafted(real_header)), "mutations": n_mutations,
        "truncations": n_cuts, "crafted_headers": len(crafted(real_header)),
        "outcomes": dict(outcomes), "slowest_error_s": round(slowest, 2),
        "app_crashes": 0,
    })
