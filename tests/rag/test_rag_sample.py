"""The sample collection: the guide in resources/, indexed on first run only, found by search.

The real guide is indexed once per module (first-run checks and searches); the tests of the
first-run bookkeeping use a tiny stand-in guide, which indexes in a moment.
"""

from __future__ import annotations

import argparse
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.rag import cli, sample
from core.rag.chunk import Chunker
from core.rag.embed import Embedder
from core.rag.library import DocumentLibrary, IndexProgress
from core.rag.sample import SAMPLE_COLLECTION, ensure_sample_collection, guide_files

GUIDE = ["01-tokens.md", "02-embeddings.md", "03-attention.md", "04-sampling.md",
         "05-retrieval.md", "quantization.pdf"]


@dataclass
class FirstRun:
    library: DocumentLibrary
    result: bool
    events: list[IndexProgress]


@pytest.fixture(scope="module")
def first_run(embedder: Embedder, chunker: Chunker,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirstRun]:
    """The real guide indexed once into a fresh database; later tests only read it."""
    db = tmp_path_factory.mktemp("guide") / "glassbox.sqlite3"
    with DocumentLibrary(db, embedder=embedder, chunker=chunker,
                         parse_time_limit_s=30) as library:
        events: list[IndexProgress] = []
        result = ensure_sample_collection(library, progress=events.append)
        yield FirstRun(library, result, events)


@pytest.fixture
def tiny_guide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A three-file stand-in for resources/sample_docs, with a source/ folder to leave out."""
    folder = tmp_path / "resources" / "sample_docs"
    (folder / "source").mkdir(parents=True)
    for name, topic in (("a.md", "tokens"), ("b.md", "sampling"), ("c.md", "attention")):
        (folder / name).write_text(f"# About {topic}\n\nA short page about {topic}.\n")
    (folder / "source" / "draft.md").write_text("# Draft\n\nNot part of the guide.\n")
    monkeypatch.setattr(sample, "sample_docs_folder", lambda: folder)
    return folder


def test_the_guide_ships_without_its_sources() -> None:
    assert [p.name for p in guide_files()] == GUIDE
    assert (sample.sample_docs_folder() / "source" / "quantization.html").is_file()


def test_first_run_indexes_the_whole_guide(first_run: FirstRun) -> None:
    library = first_run.library
    assert first_run.result is True
    assert not [e for e in first_run.events if e.stage == "failed"]
    info = library.collection(SAMPLE_COLLECTION)
    assert (info.documents, info.indexed, info.failed, info.pending) == (6, 6, 0, 0)
    assert info.chunks > 20
    documents = library.documents(SAMPLE_COLLECTION)
    assert sorted(Path(d.path).name for d in documents) == GUIDE
    copies = library.store.path.parent / sample.COPY_FOLDER  # beside the database, not resources/
    assert all(Path(d.path).parent == copies for d in documents)


def test_the_second_run_does_nothing(first_run: FirstRun) -> None:
    library = first_run.library
    version = library.store.collection_version(library.collection(SAMPLE_COLLECTION).id)
    events: list[IndexProgress] = []
    assert ensure_sample_collection(library, progress=events.append) is False
    assert events == []
    assert library.store.collection_version(
        library.collection(SAMPLE_COLLECTION).id) == version


@pytest.mark.parametrize(("query", "name", "page"), [
    ("what does temperature do when sampling", "04-sampling.md", None),
    ("how much memory does a 7B model need at 4 bits", "quantization.pdf", 4),
    ("what does Q4_K_M mean in a model file name", "quantization.pdf", 3),
    ("how is a word split into several tokens", "01-tokens.md", None),
    ("cosine similarity between sentence vectors", "02-embeddings.md", None),
    ("queries, keys and values", "03-attention.md", None),
    ("how are keyword and vector search results merged", "05-retrieval.md", None),
])
def test_questions_find_the_right_page(first_run: FirstRun, query: str, name: str,
                                       page: int | None) -> None:
    hits = first_run.library.search(query, SAMPLE_COLLECTION, top_k=3)
    found = [h for h in hits if Path(h.path).name == name and (page is None or h.page == page)]
    assert found, [(Path(h.path).name, h.page, h.heading) for h in hits]


def test_pdf_pages_carry_their_outline_heading(first_run: FirstRun) -> None:
    hit = first_run.library.search("how much memory does a 7B model need at 4 bits",
                                   SAMPLE_COLLECTION, top_k=1)[0]
    assert (Path(hit.path).name, hit.page) == ("quantization.pdf", 4)
    assert hit.heading == "Memory: how much RAM a model needs"


def test_a_removed_guide_stays_removed(tiny_guide: Path, library: DocumentLibrary,
                                       embedder: Embedder, chunker: Chunker) -> None:
    assert ensure_sample_collection(library) is True
    assert sorted(Path(d.path).name for d in library.documents(SAMPLE_COLLECTION)) == [
        "a.md", "b.md", "c.md"]
    library.remove_collection(SAMPLE_COLLECTION)
    assert ensure_sample_collection(library) is False
    with DocumentLibrary(embedder=embedder, chunker=chunker) as restarted:
        assert ensure_sample_collection(restarted) is False
        assert restarted.list_collections() == []


def test_a_cancelled_first_run_goes_on_next_time(tiny_guide: Path,
                                                 library: DocumentLibrary) -> None:
    stop = threading.Event()

    def cancel_after_first(event: IndexProgress) -> None:
        if event.stage == "indexed":
            stop.set()

    assert ensure_sample_collection(library, cancel_after_first, stop) is False
    assert library.collection(SAMPLE_COLLECTION).indexed == 1
    events: list[IndexProgress] = []
    assert ensure_sample_collection(library, progress=events.append) is True
    assert [e.stage for e in events].count("skipped") == 1  # the first run's work is kept
    assert library.collection(SAMPLE_COLLECTION).indexed == 3
    assert ensure_sample_collection(library) is False


def test_a_guide_removed_before_its_first_indexing_finished_stays_removed(
        tiny_guide: Path, library: DocumentLibrary) -> None:
    stop = threading.Event()
    stop.set()
    assert ensure_sample_collection(library, cancel=stop) is False
    library.remove_collection(SAMPLE_COLLECTION)
    assert ensure_sample_collection(library) is False
    assert library.list_collections() == []


def test_a_guide_file_that_failed_is_tried_again(tiny_guide: Path,
                                                 library: DocumentLibrary) -> None:
    (tiny_guide / "b.md").write_bytes(b"\xff\xfe not UTF-8")
    assert ensure_sample_collection(library) is True
    assert library.collection(SAMPLE_COLLECTION).failed == 1
    (tiny_guide / "b.md").write_text("# About sampling\n\nFixed in an update.\n")
    assert ensure_sample_collection(library) is True
    info = library.collection(SAMPLE_COLLECTION)
    assert (info.indexed, info.failed) == (3, 0)
    assert ensure_sample_collection(library) is False


def test_missing_resources_are_not_an_error(tiny_guide: Path, library: DocumentLibrary,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setattr(sample, "sample_docs_folder", lambda: tmp_path / "not-installed")
    assert ensure_sample_collection(library) is False
    assert library.list_collections() == []
    monkeypatch.setattr(sample, "sample_docs_folder", lambda: tiny_guide)
    assert ensure_sample_collection(library) is True  # a guide installed later still arrives


def test_cli_docs_sample_brings_the_guide_back(tiny_guide: Path,
                                               library: DocumentLibrary) -> None:
    assert ensure_sample_collection(library)
    library.remove_collection(SAMPLE_COLLECTION)
    (tiny_guide / "b.md").write_text("# About sampling\n\nRevised: temperature and top-p.\n")
    code, out, err = _docs("sample")
    assert code == 0, err
    assert out.startswith(f"{SAMPLE_COLLECTION}: 3 indexed, 0 unchanged, 0 failed")
    assert "Revised" in library.search("temperature", SAMPLE_COLLECTION, top_k=1)[0].text
    assert ensure_sample_collection(library) is False

    code, out, _ = _docs("sample", "--quiet")  # again: nothing changed, nothing re-indexed
    assert code == 0 and "0 indexed, 3 unchanged" in out
    code, out, _ = _docs("sample", "--json")
    assert code == 0 and json.loads(out)["skipped"] == 3


def test_cli_docs_sample_without_the_guide_installed(library: DocumentLibrary, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sample, "sample_docs_folder", lambda: tmp_path / "not-installed")
    code, _, err = _docs("sample")
    assert code == 1 and "sample documents are not installed" in err


def _docs(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="glassbox")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(parser.parse_args(["docs", *argv]), out, err)
    return code, out.getvalue(), err.getvalue()
