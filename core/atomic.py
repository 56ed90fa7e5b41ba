"""Files written whole or not at all: a crash, a full disk or a cancel leaves the old file (or
none), never half of the new one.

The new content goes to a hidden temporary file beside the target (the same folder, so the
final `os.replace` is a rename on one filesystem, which POSIX and Windows make atomic), is
flushed to disk, and only then renamed over the target; the folder is synced afterwards so the
rename itself survives a power cut.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _fsync_path(path: Path) -> None:
    # Writers such as gguf.GGUFWriter own their file handles; syncing through a new descriptor
    # flushes the same file's pages just as well.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (best effort: some systems cannot open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path to write the new content to; when the block ends without an error it
    becomes `target`. On any error (or a cancel raised in the block) the temporary file is
    removed and `target` is untouched."""
    target = Path(target)
    temp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        yield temp
        _fsync_path(temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    fsync_folder(target.parent)


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as temp:
        temp.write_text(text, encoding="utf-8")


def write_json_atomic(target: str | Path, data: Any, *, indent: int | None = 2) -> None:
    write_text_atomic(target, json.dumps(data, indent=indent, ensure_ascii=False))
