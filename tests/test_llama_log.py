"""llama.cpp's log arrives as `logging` records, and nothing swaps the process's stdout/stderr."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.llama_log import _on_native_log, open_llama


class _Spy(logging.Handler):
    """Keeps every record, and what stdout/stderr were while each record was made."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.streams: set[tuple[int, int, int, int]] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.streams.add(_streams())

    def lines(self, level: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if level is None or r.levelno == level]


def _streams() -> tuple[int, int, int, int]:
    """The Python objects and the files behind descriptors 1 and 2 (a swap changes both)."""
    return id(sys.stdout), id(sys.stderr), os.fstat(1).st_ino, os.fstat(2).st_ino


@pytest.fixture
def spy() -> Iterator[_Spy]:
    logger = logging.getLogger("glassbox.llama")
    handler, was = _Spy(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(was)


def test_loading_the_bundled_model_logs_through_logging_and_leaves_stdio_alone(
        model_path: Path, spy: _Spy, capfd: pytest.CaptureFixture[str]) -> None:
    before = _streams()
    llm = open_llama(str(model_path), n_ctx=256)
    try:
        list(zip(range(2), llm.generate(llm.tokenize(b"Hello"), temp=0.0), strict=False))
    finally:
        llm.close()
    assert _streams() == before
    # Records are made inside llama.cpp's load: stdout and stderr were the same all along.
    assert spy.streams == {before}
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # quiet: no native lines, no llama-cpp-python prints
    debug = spy.lines(logging.DEBUG)
    assert any(line.startswith("llama_model_loader: ") for line in debug)  # llama.cpp's log
    assert any(line.startswith("Model metadata: ") for line in debug)  # llama-cpp-python's
    assert not any(line.endswith("\n") for line in debug)
    assert not spy.lines(logging.WARNING)


def test_a_file_llama_cpp_refuses_logs_its_errors_as_warnings(
        model_path: Path, tmp_path: Path, spy: _Spy, capfd: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "cut.gguf"
    with open(model_path, "rb") as source:
        broken.write_bytes(source.read(1_000_000))
    with pytest.raises(ValueError):
        open_llama(str(broken), n_ctx=256)
    assert any("failed to load model" in line for line in spy.lines(logging.WARNING))
    assert capfd.readouterr().err == ""  # under pytest a handler exists: nothing on fd 2


def test_pieces_of_one_line_make_one_record(spy: _Spy) -> None:
    for level, text in [(2, b"load_tensors: loading"), (5, b"."), (5, b"."), (5, b"\n"),
                        (3, b"llama_context: n_ctx_seq (9) > n_ctx_train (8)\n"),
                        (1, b"unfinished"), (2, b"next\n")]:
        _on_native_log(level, text, None)
    assert [(r.levelno, r.getMessage()) for r in spy.records] == [
        (logging.DEBUG, "load_tensors: loading.."),
        (logging.WARNING, "llama_context: n_ctx_seq (9) > n_ctx_train (8)"),
        (logging.DEBUG, "unfinished"),
        (logging.DEBUG, "next"),
    ]
