"""Folder watching with real files and real watchdog observers (inotify on Linux)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.rag.library import DocumentLibrary
from core.rag.watch import FolderWatcher

DEBOUNCE_S = 0.3
WAIT_S = 15.0  # generous: the machine may be busy; a passing run waits far less
QUIET_S = 1.2  # several debounce periods with nothing due


class Calls:
    """Records on_change calls (from the watcher's thread) and lets the test wait for them."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, collection: str) -> None:
        with self._cond:
            self.names.append(collection)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.names) >= count, timeout), self.names
            return list(self.names)

    def settle(self, count: int) -> None:
        """Wait for `count` calls, then make sure no further call comes."""
        self.wait_for(count)
        time.sleep(QUIET_S)
        assert len(self.names) == count, self.names


@pytest.fixture
def make_watcher() -> Iterator[Callable[[Callable[[str], None]], FolderWatcher]]:
    watchers: list[FolderWatcher] = []

    def make(on_change: Callable[[str], None]) -> FolderWatcher:
        watchers.append(FolderWatcher(on_change, debounce_s=DEBOUNCE_S))
        return watchers[-1]

    yield make
    for watcher in watchers:
        watcher.close()


def _watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.is_alive() and (
        type(t).__module__.startswith("watchdog") or t.name == "glassbox-folder-watch")]


def test_create_modify_delete_in_a_subfolder_each_give_one_debounced_call(
        tmp_path: Path, make_watcher: Callable[..., FolderWatcher]) -> None:
    sub = tmp_path / "docs" / "deeper" / "sub"
    sub.mkdir(parents=True)
    calls = Calls()
    make_watcher(calls).watch("notes", [tmp_path / "docs"])

    for i in range(10):  # a burst: ten files written back to back
        (sub / f"page{i}.md").write_text(f"# Page {i}\nText {i}.\n", encoding="utf-8")
    calls.settle(1)
    with (sub / "page3.md").open("a", encoding="utf-8") as handle:
        for line in range(20):  # many writes, each flushed: many events, one call
            handle.write(f"line {line}\n")
            handle.flush()
    calls.settle(2)
    (sub / "page5.md").unlink()
    calls.settle(3)
    (sub / "page6.md").rename(sub / "renamed.md")
    calls.settle(4)
    assert calls.names == ["notes"] * 4


def test_unsupported_and_hidden_files_give_no_call(
        tmp_path: Path, make_watcher: Callable[..., FolderWatcher]) -> None:
    sub = tmp_path / "docs" / "sub"
    sub.mkdir(parents=True)
    (sub / "old.md").write_text("old", encoding="utf-8")
    calls = Calls()
    make_watcher(calls).watch("notes", [tmp_path / "docs"])

    (sub / "download.tmp").write_text("partial", encoding="utf-8")
    (sub / "~$report.docx").write_bytes(b"\x05owner")  # Word's lock file
    (sub / ".report.md.swp").write_text("swap", encoding="utf-8")
    (sub / ".hidden.md").write_text("hidden", encoding="utf-8")
    (tmp_path / "docs" / ".git").mkdir()
    (tmp_path / "docs" / ".git" / "README.md").write_text("in a hidden folder", encoding="utf-8")
    (sub / "download.tmp").unlink()
    (sub / "old.md").touch()  # metadata only: the content did not change
    (tmp_path / "elsewhere.md").write_text("not under the watched folder", encoding="utf-8")
    time.sleep(QUIET_S + 0.5)
    assert calls.names == []


def test_a_new_file_is_indexed_and_a_deleted_one_dropped_after_the_call(
        library: DocumentLibrary, tmp_path: Path,
        make_watcher: Callable[..., FolderWatcher]) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "tokens.md").write_text("# Tokens\nA model reads text as tokens.\n",
                                      encoding="utf-8")
    single = tmp_path / "single.txt"
    single.write_text("A file added on its own is not a folder to watch.", encoding="utf-8")
    library.add_paths("docs", [folder, single])
    assert library.index("docs").indexed == 2
    assert library.watched_folders("docs") == [str(folder.resolve())]

    changed = threading.Event()
    make_watcher(lambda name: changed.set()).watch("docs", library.watched_folders("docs"))
    (folder / "later").mkdir()
    (folder / "later" / "zeppelins.md").write_text(
        "# Zeppelins\nA zeppelin is a rigid airship with a fabric skin.\n", encoding="utf-8")
    (folder / "tokens.md").unlink()
    assert changed.wait(WAIT_S)

    # the library belongs to this thread: the callback only signals, the owner re-indexes
    summary = library.index("docs")
    assert (summary.indexed, summary.failed) == (1, 0)
    names = sorted(Path(d.path).name for d in library.documents("docs"))
    assert names == ["single.txt", "zeppelins.md"]
    hit = library.search("rigid airship", "docs", top_k=1)[0]
    assert hit.path.endswith("zeppelins.md") and hit.heading == "Zeppelins"
    assert library.search("tokens", "docs", mode="bm25") == []


def test_collections_are_told_apart_and_unwatch_stops_calls(
        tmp_path: Path, make_watcher: Callable[..., FolderWatcher]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    calls = Calls()
    watcher = make_watcher(calls)
    watcher.watch("alpha", [tmp_path / "a"])
    watcher.watch("beta", [str(tmp_path / "b")])
    (tmp_path / "b" / "one.txt").write_text("one", encoding="utf-8")
    calls.settle(1)
    assert calls.names == ["beta"]

    watcher.watch("beta", [tmp_path / "a"])  # replaces b: both collections now watch a
    (tmp_path / "b" / "two.txt").write_text("two", encoding="utf-8")
    (tmp_path / "a" / "three.txt").write_text("three", encoding="utf-8")
    calls.settle(3)
    assert sorted(calls.names[1:]) == ["alpha", "beta"]

    watcher.unwatch("alpha")
    (tmp_path / "a" / "four.txt").write_text("four", encoding="utf-8")
    calls.settle(4)
    assert calls.names[3] == "beta"


def test_a_folder_that_disappears_does_not_stop_the_watcher(
        tmp_path: Path, make_watcher: Callable[..., FolderWatcher]) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.md").write_text("a", encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    calls = Calls()
    watcher = make_watcher(calls)
    watcher.watch("docs", [folder, other, tmp_path / "not-yet"])  # a missing one is skipped
    shutil.rmtree(folder)
    calls.settle(1)  # its documents went: that is a change

    (other / "b.md").write_text("b", encoding="utf-8")  # the other folder is still watched
    calls.settle(2)
    folder.mkdir()
    (tmp_path / "not-yet").mkdir()
    watcher.watch("docs", [folder, other, tmp_path / "not-yet"])  # back: watched again
    (folder / "c.md").write_text("c", encoding="utf-8")
    calls.settle(3)
    (tmp_path / "not-yet" / "d.md").write_text("d", encoding="utf-8")
    calls.settle(4)


def test_a_failing_callback_is_logged_and_watching_goes_on(
        tmp_path: Path, make_watcher: Callable[..., FolderWatcher],
        caplog: pytest.LogCaptureFixture) -> None:
    calls = Calls()

    def on_change(name: str) -> None:
        calls(name)
        if len(calls.names) == 1:
            raise RuntimeError("a bug in the caller")

    make_watcher(on_change).watch("docs", [tmp_path])
    (tmp_path / "one.md").write_text("one", encoding="utf-8")
    calls.settle(1)
    (tmp_path / "two.md").write_text("two", encoding="utf-8")
    calls.settle(2)
    assert "a bug in the caller" in caplog.text


def test_close_ends_every_thread_and_is_idempotent(tmp_path: Path) -> None:
    before = _watchdog_threads()
    calls = Calls()
    watcher = FolderWatcher(calls, debounce_s=DEBOUNCE_S)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    watcher.watch("one", [tmp_path / "a"])
    watcher.watch("two", [tmp_path / "b"])
    (tmp_path / "a" / "x.md").write_text("x", encoding="utf-8")
    calls.wait_for(1)
    assert len(_watchdog_threads()) > len(before)
    (tmp_path / "b" / "y.md").write_text("y", encoding="utf-8")  # pending when it closes
    watcher.close()
    watcher.close()
    assert _watchdog_threads() == before
    with pytest.raises(RuntimeError, match="closed"):
        watcher.watch("one", [tmp_path / "a"])


def test_close_from_inside_the_callback_does_not_hang(tmp_path: Path) -> None:
    before = _watchdog_threads()
    closed = threading.Event()
    watcher: FolderWatcher

    def on_change(name: str) -> None:
        watcher.close()
        closed.set()

    watcher = FolderWatcher(on_change, debounce_s=DEBOUNCE_S)
    watcher.watch("docs", [tmp_path])
    (tmp_path / "x.md").write_text("x", encoding="utf-8")
    assert closed.wait(WAIT_S)
    deadline = time.monotonic() + WAIT_S
    while _watchdog_threads() != before and time.monotonic() < deadline:
        time.sleep(0.05)  # the callback's own thread ends just after it returns
    assert _watchdog_threads() == before
