"""Generation first: a reply's tokens/s while a folder indexes, against the same reply alone.

The folder indexes over and over, as `glassbox docs add` does (a DocumentLibrary in another
process: its parser child, torch and SQLite), or as the app does (a DocumentLibrary on a worker
thread of this process); replies stream from an engine child meanwhile. Rounds alternate: a
reply alone (indexing held between runs), then one while indexing runs, so load from other jobs
falls on both sides alike. A reply starts at a random point of the indexing, often in the
middle of an embedding batch. The indexing figure is chunks embedded while replies stream
against chunks embedded with no reply, by the same indexer in the same run.

The app also writes a summary of each indexed document with the chat model, in the background
after indexing (an engine child of its own, one thread, idle priority): the same rounds measure
a reply while those summaries are written, as the app's summaries worker writes them.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import tempfile
import threading
import time
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from bench._stats import figure
from bench.rag_indexing import write_folder
from core.engine.client import EngineClient
from core.engine.loading import load_model
from core.engine.runner import default_threads
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.models.bundled import default_chat_model
from core.models.load_settings import LoadSettings

PROMPT = "Explain in detail how a bicycle works."
TOKENS = 128
ROUNDS = 7
WINDOW_S = 12.0  # indexing with and without replies streaming, over windows this long
WINDOWS = 3
TARGET_RATIO = 0.8  # issue 16: a reply keeps 80% of its speed while a folder indexes


class _Held:
    """The indexer's cancel token: set while the bench holds indexing."""

    def __init__(self, go: Event) -> None:
        self._go = go

    def is_set(self) -> bool:
        return not self._go.is_set()


def _index_forever(home: str, folder: str, chunks: Synchronized, go: Event, idle: Event,
                   stop: Event) -> None:
    """Index `folder` into fresh databases until `stop`, adding each chunk embedded to
    `chunks`. Clearing `go` stops the run at the next batch (`idle` then set); setting it
    again resumes where it stopped."""
    os.environ["GLASSBOX_HOME"] = home
    from core.rag.library import DocumentLibrary, IndexProgress

    last = [0]

    def count(event: IndexProgress) -> None:
        if event.stage == "started":
            last[0] = 0
        elif event.stage == "embedding":
            with chunks.get_lock():
                chunks.value += event.chunks_done - last[0]
            last[0] = event.chunks_done

    run = 0
    while not stop.is_set():
        if not go.wait(0.1):
            continue
        idle.clear()
        with DocumentLibrary(Path(home) / f"index-{os.getpid()}-{run}.sqlite") as lib:
            lib.add_paths("bench", [folder])
            if not lib.index("bench", progress=count, cancel=_Held(go)).cancelled:
                run += 1  # all indexed: the next run starts on a fresh database
        idle.set()


class _Background:
    """Work that runs in a loop beside the replies, held and resumed between rounds: `chunks`
    counts what it has done, `_go` lets it run, `_idle` says it stopped, `_stop` ends it."""

    chunks: Any
    _go: Any
    _idle: Any
    _stop: Any
    _worker: Any

    def resume(self) -> None:
        """Let it run, and return once it has done one piece (it is in full swing)."""
        start = self.chunks.value
        self._go.set()
        while self.chunks.value == start:
            self._check()
            time.sleep(0.02)

    def hold(self) -> None:
        """Stop it at its next step and wait for it to stop."""
        self._go.clear()
        while not self._idle.wait(0.1):
            self._check()

    def _check(self) -> None:
        if not self._worker.is_alive():
            raise RuntimeError(f"{type(self).__name__} stopped (see its traceback above)")

    def rate(self, seconds: float) -> float:
        """Pieces done per second over the next `seconds`."""
        start, started = self.chunks.value, time.perf_counter()
        time.sleep(seconds)
        return (self.chunks.value - start) / (time.perf_counter() - started)

    def close(self) -> None:
        self._stop.set()
        self._go.clear()
        self._worker.join(120)


class _Indexer(_Background):
    """A folder indexing in a loop, in a child process (the CLI) or a thread (the app);
    `chunks` counts the chunks embedded."""

    def __init__(self, home: Path, folder: Path, where: str) -> None:
        context = mp.get_context("spawn")
        self.chunks: Synchronized = context.Value("q", 0)  # type: ignore[assignment]
        self._go, self._idle, self._stop = context.Event(), context.Event(), context.Event()
        args = (str(home), str(folder), self.chunks, self._go, self._idle, self._stop)
        if where == "process":
            # Not a daemon: daemons may not start children, and the library starts a parser.
            self._worker = context.Process(target=_index_forever, args=args)
        else:
            self._worker = threading.Thread(target=_index_forever, args=args, daemon=True)
        self._worker.start()
        self.resume()


class _Summarizer(_Background):
    """The folder's summaries written over and over on a thread of this process, by the
    engine child the app's summaries worker starts; `chunks` counts the summaries written.
    A failure ends the thread, and the next hold or resume says so."""

    def __init__(self, home: Path, folder: Path) -> None:
        from core.api import open_library

        self.chunks = _Count()
        self._go, self._idle, self._stop = threading.Event(), threading.Event(), \
            threading.Event()
        library = open_library(home / "summaries.sqlite")
        library.add_paths("bench", [folder])
        library.index("bench")
        library.close()
        self._worker = threading.Thread(target=self._summarize_forever,
                                        args=(home / "summaries.sqlite",), daemon=True)
        self._worker.start()
        self.resume()

    def _summarize_forever(self, path: Path) -> None:
        from core.api import open_library, start_summary_engine

        with open_library(path) as library, start_summary_engine() as engine:
            while not self._stop.is_set():
                if not self._go.wait(0.1):
                    continue
                self._idle.clear()
                for event in library.summarize_events("bench", engine, _Held(self._go)):
                    if event.stage == "summarized":
                        self.chunks.value += 1
                    elif event.stage == "finished":  # all written: write them again
                        library.store.conn.execute("DELETE FROM rag_summaries")
                self._idle.set()


class _Count:
    """A counter with the `.value` of a shared one (written by one thread only)."""

    def __init__(self) -> None:
        self.value = 0


def _reply(engine: EngineClient) -> DoneEvent:
    events = list(engine.generate([ChatMessage("user", PROMPT)],
                                  SamplingSettings(seed=1, max_tokens=TOKENS)))
    done = events[-1]
    assert isinstance(done, DoneEvent), done
    return done


def _measure(engine: EngineClient, indexer: _Background) -> dict[str, list[float]]:
    alone: list[float] = []
    mixed: list[float] = []
    for round_ in range(ROUNDS):
        indexer.hold()
        alone.append(_reply(engine).stats.tokens_per_s)
        indexer.resume()
        time.sleep(0.3 * (round_ % 4))  # vary where in an embedding batch the reply lands
        mixed.append(_reply(engine).stats.tokens_per_s)
    index_alone: list[float] = []
    index_mixed: list[float] = []
    for _ in range(WINDOWS):
        index_alone.append(indexer.rate(WINDOW_S))
        start, started = indexer.chunks.value, time.perf_counter()
        while time.perf_counter() - started < WINDOW_S:
            _reply(engine)
        index_mixed.append((indexer.chunks.value - start) / (time.perf_counter() - started))
    indexer.hold()
    return {"alone": alone, "mixed": mixed, "index_alone": index_alone,
            "index_mixed": index_mixed}


def run() -> dict[str, Any]:
    threads = default_threads()
    figures = []
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-mixed-") as tmp:
        home = Path(tmp)
        previous = os.environ.get("GLASSBOX_HOME")
        os.environ["GLASSBOX_HOME"] = str(home)  # the engine child raises its flag here
        write_folder(home / "docs")
        try:
            with EngineClient() as engine:
                load_model(engine, default_chat_model(), LoadSettings(gpu_layers=0))
                _reply(engine)  # warm, untimed
                for where, label in (("process", "in another process, as the CLI indexes"),
                                     ("thread", "on a thread of this process, as the app "
                                                "indexes")):
                    indexer = _Indexer(home, home / "docs", where)
                    try:
                        got = _measure(engine, indexer)
                    finally:
                        indexer.close()
                    figures += _figures(got, f"while a folder indexes {label}",
                                        f"indexing chunks/s while replies stream back to back "
                                        f"({where})", "chunks/s", threads)
                summarizer = _Summarizer(home, home / "docs")
                try:
                    got = _measure(engine, summarizer)
                finally:
                    summarizer.close()
                figures += _figures(got, "while the app writes document summaries (their "
                                    "engine child: one thread, idle priority)",
                                    "summaries written per second while replies stream back "
                                    "to back", "summaries/s", threads)
        finally:
            if previous is None:
                os.environ.pop("GLASSBOX_HOME", None)
            else:
                os.environ["GLASSBOX_HOME"] = previous
    return {"name": "mixed_load", "figures": figures}


def _figures(got: dict[str, list[float]], during: str, background: str, unit: str,
             threads: int) -> list[dict[str, Any]]:
    return [
        figure(f"reply tokens/s {during} (SmolLM2-135M Q4_1, {TOKENS} tokens, {threads} "
               "threads)", got["mixed"], got["alone"],
               "the same reply with the background work held, alternating, same run",
               unit="tokens/s", higher_is_better=True, target_ratio=TARGET_RATIO),
        figure(background, got["index_mixed"], got["index_alone"],
               f"the same background work with no reply streaming, {WINDOWS} windows of "
               f"{WINDOW_S:g} s each, alternating, same run", unit=unit,
               higher_is_better=True)]


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
