"""Generation first (issue 16): the cross-process 'a model is generating' flag, raised by the
engine child while it generates and cleared after (done, cancelled, killed), and the
background work that honours it. Real model, real embedder; no timing assertions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import background
from core.background import (
    background_work,
    call_in_thread,
    generating,
    generation_active,
    lower_thread,
)
from core.engine.client import EngineClient
from core.engine.types import ChatMessage, SamplingSettings, TokenEvent
from core.errors import EngineCrashed
from core.rag import embed
from core.rag.embed import Embedder, default_embedder

LONG = [ChatMessage("user", "Write a long story about a lighthouse keeper and a storm.")]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="per-thread priorities and flock are Linux features here")


@pytest.fixture(scope="module")
def engine_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-home")


def _start_engine(model_path: Path, home: Path) -> EngineClient:
    """An engine child whose data folder (where its flag lives) is `home`."""
    previous = os.environ.get("GLASSBOX_HOME")
    os.environ["GLASSBOX_HOME"] = str(home)  # the child takes the environment at spawn
    try:
        client = EngineClient()
        client.load(model_path, n_ctx=1024)
    finally:
        if previous is None:
            os.environ.pop("GLASSBOX_HOME", None)
        else:
            os.environ["GLASSBOX_HOME"] = previous
    return client


@pytest.fixture(scope="module")
def engine(model_path: Path, engine_home: Path) -> Iterator[EngineClient]:
    client = _start_engine(model_path, engine_home)
    yield client
    client.close()


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    model = default_embedder()
    model.load()
    return model


def _flag_while_streaming(client: EngineClient, home: Path, stop_after: int | None = None,
                          tokens: int = 300) -> list[bool]:
    """The flag as seen at each token event of a reply (cancelled after `stop_after`)."""
    seen = []
    for event in client.generate(LONG, SamplingSettings(seed=3, max_tokens=tokens)):
        if isinstance(event, TokenEvent):
            seen.append(generation_active(home))
            if stop_after is not None and len(seen) == stop_after:
                client.cancel()
    return seen


@linux_only
def test_flag_is_raised_while_a_reply_streams_and_cleared_when_it_ends(
        engine: EngineClient, engine_home: Path) -> None:
    assert not generation_active(engine_home)
    seen = _flag_while_streaming(engine, engine_home, tokens=40)
    # Every token is sent while the flag is held; the child may finish before we look at the
    # last few, so the first ones are the proof.
    assert len(seen) > 10 and all(seen[:5])
    assert not generation_active(engine_home)  # lowered before the DoneEvent was sent
    assert not generation_active()  # this test's own data folder was never involved


@linux_only
def test_flag_is_cleared_after_a_cancel(engine: EngineClient, engine_home: Path) -> None:
    seen = _flag_while_streaming(engine, engine_home, stop_after=3)
    assert seen[:3] == [True, True, True]
    assert not generation_active(engine_home)
    # and raised again by the next reply
    assert _flag_while_streaming(engine, engine_home, stop_after=2)[:2] == [True, True]
    assert not generation_active(engine_home)


@linux_only
def test_flag_is_cleared_when_the_engine_child_is_killed(model_path: Path,
                                                         tmp_path: Path) -> None:
    client = _start_engine(model_path, tmp_path)
    try:
        stream = client.generate(LONG, SamplingSettings(seed=3, max_tokens=300))
        assert isinstance(next(stream), TokenEvent)
        assert generation_active(tmp_path)
        assert client.pid is not None
        os.kill(client.pid, signal.SIGKILL)
        with pytest.raises(EngineCrashed):
            for _ in stream:
                pass
        assert not client.alive
        assert not generation_active(tmp_path)  # the kernel dropped the dead child's lock
    finally:
        client.close()


@linux_only
def test_flag_is_raised_while_a_capture_runs(engine: EngineClient, engine_home: Path) -> None:
    seen: list[bool] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(generation_active(engine_home))
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        engine.logit_lens("The lighthouse keeper logged the weather every four hours. " * 8)
    finally:
        done.set()
        watcher.join()
    assert any(seen)
    assert not generation_active(engine_home)


@linux_only
def test_flag_is_per_data_folder(tmp_path: Path) -> None:
    other = tmp_path / "other-profile"
    other.mkdir()
    with generating(other):
        assert generation_active(other)
        assert not generation_active(tmp_path)
        assert not generation_active()  # this test's GLASSBOX_HOME
    assert not generation_active(other)


@linux_only
def test_two_generating_holders_do_not_wait_for_each_other() -> None:
    with generating(), generating():  # Compare: two engines at once
        assert generation_active()
    assert not generation_active()


@linux_only
def test_a_lowered_thread_runs_in_the_idle_class_and_the_caller_does_not() -> None:
    def policy() -> int:
        assert lower_thread()
        return os.sched_getscheduler(0)

    assert call_in_thread(policy, "test-lowered") == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_background_batches_yield_while_a_model_generates(embedder: Embedder) -> None:
    texts = [f"chunk {i} about lighthouses and storms" for i in range(8)]
    reference = embedder.encode(texts)
    yielded = embedder.batches_yielded
    with background_work():
        assert (embedder.encode(texts) == reference).all()
    assert embedder.batches_yielded == yielded  # nothing generates: full speed
    with generating():
        assert (embedder.encode(texts) == reference).all()
        assert embedder.batches_yielded == yielded  # a search query is not background work
        with background_work():
            vectors = embedder.encode(texts)
    if sys.platform.startswith("linux"):
        assert embedder.batches_yielded == yielded + 1
    assert abs(vectors - reference).max() < 1e-5


def test_a_batch_yields_when_generation_starts_midway(embedder: Embedder,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The flag goes up after the batch started (at its first sublayer): the next sublayers
    see it, and the rest of the batch runs lowered, on one thread."""
    monkeypatch.setattr(embed, "_CHECK_INTERVAL_S", 0.0)
    seen: list[tuple[int, int]] = []
    stack: list[object] = []
    layers = embedder._model[0].auto_model.encoder.layer

    def start_generating(module: object, args: object) -> None:
        if not stack:
            holder = generating()
            holder.__enter__()
            stack.append(holder)

    def record(module: object, args: object) -> None:
        import torch

        seen.append((os.sched_getscheduler(0), torch.get_num_threads()))

    first = layers[0].register_forward_pre_hook(start_generating)
    last = layers[-1].register_forward_pre_hook(record)
    yielded = embedder.batches_yielded
    try:
        with background_work():
            embedder.encode(["a chunk about the sea"] * 4)
    finally:
        first.remove()
        last.remove()
        for holder in stack:
            holder.__exit__(None, None, None)  # type: ignore[attr-defined]
    assert embedder.batches_yielded == yielded + 1
    if sys.platform.startswith("linux"):
        assert seen == [(os.SCHED_IDLE, embed.BACKGROUND_THREADS)]


def test_indexing_yields_while_a_model_generates(embedder: Embedder, tmp_path: Path) -> None:
    from core.rag.library import DocumentLibrary

    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(2):
        (folder / f"note{n}.md").write_text(f"# Note {n}\n\n" + "The keeper logged the "
                                           "weather every four hours. " * 20)
    yielded = embedder.batches_yielded
    with DocumentLibrary(tmp_path / "db.sqlite", embedder=embedder) as lib:
        lib.add_paths("notes", [folder])
        with generating():
            summary = lib.index("notes")
        assert summary.indexed == 2 and summary.failed == 0
        if sys.platform.startswith("linux"):
            assert embedder.batches_yielded >= yielded + 2  # one batch a file at least
        assert lib.search("weather", "notes")


@linux_only
def test_lab_jobs_are_lowered_while_a_model_generates() -> None:
    import multiprocessing

    from core.background import lower_process

    child = multiprocessing.get_context("spawn").Process(target=_sleep, daemon=True)
    child.start()
    try:
        assert child.pid is not None
        assert lower_process(child.pid)
        tids = os.listdir(f"/proc/{child.pid}/task")
        assert tids and all(os.sched_getscheduler(int(t)) == os.SCHED_IDLE for t in tids)
    finally:
        child.kill()
        child.join()


def _sleep() -> None:
    import time

    time.sleep(60)


def test_no_flag_file_means_nobody_generates(tmp_path: Path) -> None:
    assert not generation_active(tmp_path)
    assert not (tmp_path / background.LOCK_FILE).exists()


PROBE = """
import os, sys, subprocess
seen = {}

class Watch:
    # Records the wait policy at the moment torch's extension (and its libgomp) loads.
    def find_spec(self, name, path=None, target=None):
        if name == "torch._C":
            seen["policy"] = os.environ.get("OMP_WAIT_POLICY")
        return None

sys.meta_path.insert(0, Watch())
from core.rag.embed import Embedder
Embedder().load()
child = subprocess.run([sys.executable, "-c",
                        "import os; print(os.environ.get('OMP_WAIT_POLICY'))"],
                       capture_output=True, text=True).stdout.strip()
print(seen.get("policy"), os.environ.get("OMP_WAIT_POLICY"), child)
"""


@pytest.mark.parametrize("users", [None, "ACTIVE"])
def test_torch_threads_sleep_between_batches_and_children_keep_the_default(
        users: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if users:
        env["OMP_WAIT_POLICY"] = users
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, cwd=Path(__file__).parent.parent, timeout=240)
    assert out.returncode == 0, out.stderr
    at_import, after, child = out.stdout.split()
    if users:  # the user's own choice is left alone
        assert (at_import, after, child) == (users, users, users)
    else:
        assert (at_import, after, child) == ("PASSIVE", "None", "None")
