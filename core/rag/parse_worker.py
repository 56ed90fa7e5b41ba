"""Parse untrusted files in a child process with a time and memory limit per file.

pypdf has had infinite loops and decompression bombs, and no `try` catches those; so parsing
runs in one long-lived child process. A file that runs past its time limit gets the child
killed (a fresh one starts for the next file) and an IndexingError for that file alone.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

from core.background import call_in_thread, generation_active
from core.rag.errors import IndexingError
from core.rag.parse import Section

DEFAULT_TIME_LIMIT_S = 30.0
DEFAULT_MEMORY_LIMIT_MB = 1024
# The chunker tokenizes a section at once, and its cost grows faster than the text: a 100 MB
# single-line file would take minutes and gigabytes in the indexing thread. Sections longer
# than this are cut at a space into pieces (keeping their page and heading).
MAX_SECTION_CHARS = 100_000


def split_long(sections: list[Section], limit: int = MAX_SECTION_CHARS) -> list[Section]:
    """The sections, with any longer than `limit` characters cut at whitespace."""
    out: list[Section] = []
    for section in sections:
        text = section.text
        # Offsets, not slices of what is left: slicing copies the rest of a 100 MB text once
        # per piece.
        start = 0
        while len(text) - start > limit:
            end = start + limit
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            cut = cut if cut > start + limit // 2 else end  # one huge word: cut it anyway
            piece = text[start:cut].strip()
            if piece:
                out.append(Section(piece, section.page, section.heading))
            start = cut
        rest = text[start:].strip()
        if rest:
            out.append(Section(rest, section.page, section.heading))
    return out


def _parse(path: Path) -> list[Section]:
    from core.rag.parse import parse_file

    return split_long(parse_file(path))


def _serve(conn: Connection, memory_limit_mb: int | None) -> None:
    """The child's loop: a path in, ("ok", sections) or ("error", reason) out; None ends it."""
    if memory_limit_mb and sys.platform.startswith("linux"):
        import resource

        limit = memory_limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import logging

    # pypdf logs every repair it makes; the reply already says what matters about the file
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):  # the parent went away (or killed us mid-read)
            return
        if request is None:
            return
        reply: tuple[str, Any]
        path = Path(request)
        try:
            # On a thread of its own, lowered once a model generates (core.background): a PDF
            # can take seconds, and this child must not preempt llama.cpp's threads meanwhile.
            sections = call_in_thread(partial(_parse, path), "glassbox-parse",
                                      lower_when=generation_active)
            reply = ("ok", [(s.text, s.page, s.heading) for s in sections])
        except IndexingError as exc:
            reply = ("error", str(exc))
        except MemoryError:
            reply = ("error", f"parsing it needs more than {memory_limit_mb} MB of memory")
        except RecursionError:
            reply = ("error", "its structure nests too deeply to parse")
        except Exception as exc:  # a parser bug must not end the child; report it on the file
            reply = ("error", f"the parser failed ({type(exc).__name__}: {exc})")
        conn.send(reply)


class ParserProcess:
    """One parsing child process. Owned by one thread; at most one file in flight.

    `submit()` hands a file to the child and returns at once, so the caller can embed the
    previous file while this one parses; `result()` waits for it, up to the time limit
    counted from submission.
    """

    def __init__(self, time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                 memory_limit_mb: int | None = DEFAULT_MEMORY_LIMIT_MB) -> None:
        self.time_limit_s = time_limit_s
        self.memory_limit_mb = memory_limit_mb
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._pending: tuple[Path, float] | None = None

    def _start(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        context = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.memory_limit_mb),
                                  name="glassbox-parser", daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    def submit(self, path: Path) -> None:
        if self._pending is not None:
            raise RuntimeError("a file is already being parsed; call result() first")
        conn = self._start()
        conn.send(str(path))
        self._pending = (path, time.monotonic())

    def result(self) -> list[Section]:
        """Sections of the submitted file. Raises IndexingError (bad file, timeout, crash)."""
        if self._pending is None:
            raise RuntimeError("no file was submitted")
        path, started = self._pending
        self._pending = None
        conn = self._conn
        assert conn is not None
        remaining = self.time_limit_s - (time.monotonic() - started)
        try:
            ready = conn.poll(max(0.0, remaining))
            reply = conn.recv() if ready else None
        except (EOFError, OSError):
            self._stop()
            raise IndexingError("the parser crashed on this file") from None
        if reply is None:
            self._stop()  # the child is stuck in this file: kill it, the next file gets a new one
            raise IndexingError(
                f"parsing took longer than {self.time_limit_s:g} s and was stopped"
            )
        kind, value = reply
        if kind == "error":
            raise IndexingError(value)
        return [Section(text, page, heading) for text, page, heading in value]

    def parse(self, path: Path) -> list[Section]:
        self.submit(path)
        return self.result()

    def _stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(5)
            process.close()

    def close(self) -> None:
        """Stop the child (politely if it is idle)."""
        if self._conn is not None and self._pending is None:
            try:
                self._conn.send(None)
                if self._process is not None:
                    self._process.join(2)
            except OSError:
                pass
        self._pending = None
        self._stop()

    def __enter__(self) -> ParserProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
