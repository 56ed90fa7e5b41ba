"""Collections end to end: real files, the real embedding model, real SQLite + sqlite-vec."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from rag_files import FREEDONIA, make_pdf

from core.config import database_path
from core.rag.errors import IndexingError, UnknownCollection
from core.rag.index_store import connect
from core.rag.library import DocumentLibrary, IndexProgress


def _by_name(library: DocumentLibrary, name: str) -> dict[str, str]:
    return {Path(d.path).name: d.status for d in library.documents(name)}


def test_a_mixed_folder_indexes_and_a_bad_file_is_recorded(library: DocumentLibrary,
                                                           corpus: Path) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    (corpus / "junk.txt").write_bytes(b"\x00\x01\x02binary")
    library.add_paths("docs", [corpus])
    events: list[IndexProgress] = []
    summary = library.index("docs", progress=events.append)
    assert (summary.indexed, summary.failed, summary.cancelled) == (4, 2, False)
    assert events[0].stage == "started" and events[-1].stage == "finished"
    assert events[-1].files_done == events[-1].files_total == 6
    assert _by_name(library, "docs") == {
        "atlas.pdf": "indexed", "broken.pdf": "failed", "guide.md": "indexed",
        "junk.txt": "failed", "notes.txt": "indexed", "sampling.html": "indexed"}
    errors = {Path(d.path).name: d.error for d in library.documents("docs")}
    assert "damaged" in (errors["broken.pdf"] or "")
    assert "binary" in (errors["junk.txt"] or "")
    info = library.collection("docs")
    assert (info.documents, info.indexed, info.failed) == (6, 4, 2)


def test_pages_and_headings_survive_into_search_hits(library: DocumentLibrary,
                                                     corpus: Path) -> None:
    library.add_paths("docs", [corpus])
    library.index("docs")
    hits = library.search("What is the capital of Freedonia?", "docs", top_k=3)
    assert hits[0].path.endswith("atlas.pdf") and hits[0].page == 2
    assert hits[0].text == FREEDONIA
    assert hits[0].vector_rank == 1 and hits[0].bm25_rank == 1 and hits[0].rank == 1
    assert hits[0].vector_score is not None and hits[0].bm25_score is not None
    nucleus = library.search("top-p nucleus smallest set of tokens", "docs", top_k=1)[0]
    assert nucleus.path.endswith("sampling.html") and nucleus.heading == "Nucleus sampling"
    assert nucleus.page is None
    assert library.search("scriptword", "docs", mode="bm25") == []  # scripts are not text


def test_hybrid_dense_and_bm25_modes(library: DocumentLibrary, corpus: Path) -> None:
    library.add_paths("docs", [corpus])
    library.index("docs")
    query = "fewer bits for weights"
    for mode in ("hybrid", "dense", "bm25"):
        top = library.search(query, ["docs"], top_k=2, mode=mode)
        assert top[0].path.endswith("notes.txt"), mode
    with pytest.raises(UnknownCollection):
        library.search(query, "nope")


def test_reindex_skips_unchanged_and_picks_up_changes(library: DocumentLibrary,
                                                      corpus: Path) -> None:
    library.add_paths("docs", [corpus])
    assert library.index("docs").indexed == 4
    again = library.index("docs")
    assert (again.indexed, again.skipped, again.chunks) == (0, 4, 0)

    notes = corpus / "notes.txt"
    notes.write_text("Quantization now mentions the marmalade kingdom.", encoding="utf-8")
    os.utime(notes, (1_000_000_000, 1_000_000_000))
    guide = corpus / "guide.md"
    os.utime(guide, (1_000_000_000, 1_000_000_000))  # touched, content unchanged
    (corpus / "new.md").write_text("# New\nA brand new page about zeppelins.\n")
    (corpus / "atlas" / "atlas.pdf").unlink()
    summary = library.index("docs")
    assert (summary.indexed, summary.skipped) == (2, 2)  # notes + new; guide + html skipped
    names = _by_name(library, "docs")
    assert "atlas.pdf" not in names and names["new.md"] == "indexed"
    assert library.search("marmalade", "docs", mode="bm25")[0].path == str(notes)
    assert library.search("zeppelins", "docs", top_k=1)[0].path.endswith("new.md")


def test_cancel_stops_and_the_next_run_resumes(library: DocumentLibrary, corpus: Path) -> None:
    library.add_paths("docs", [corpus])
    cancel = threading.Event()
    stages = []
    for event in library.index_events("docs", cancel):
        stages.append(event.stage)
        if event.stage == "indexed":
            cancel.set()
    assert stages[-1] == "cancelled" and stages.count("indexed") == 1
    statuses = _by_name(library, "docs")
    assert sorted(statuses.values()).count("pending") == 3
    summary = library.index("docs")
    assert (summary.indexed, summary.skipped) == (3, 1)


def test_remove_documents_and_collections(library: DocumentLibrary, corpus: Path) -> None:
    library.add_paths("docs", [corpus])
    library.index("docs")
    assert library.remove_path("docs", corpus / "atlas") == 1
    assert library.remove_path("docs", corpus / "notes.txt") == 1
    assert library.index("docs").indexed == 0  # the removed file is not found again
    assert set(_by_name(library, "docs")) == {"guide.md", "sampling.html"}
    hits = library.search("capital of Freedonia", "docs", top_k=5)
    assert all("atlas" not in h.path for h in hits)
    library.remove_collection("docs")
    assert library.list_collections() == []
    conn = connect(database_path())
    try:
        counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("rag_chunks", "rag_vectors", "rag_documents")]
    finally:
        conn.close()
    assert counts == [0, 0, 0]


def test_a_document_is_stored_whole_or_not_at_all(library: DocumentLibrary,
                                                  tmp_path: Path) -> None:
    path = tmp_path / "one.pdf"
    path.write_bytes(make_pdf(["alpha page", "beta page"]))
    library.add_paths("docs", [path])
    library.index("docs")
    doc = library.documents("docs")[0]
    with pytest.raises(ValueError):  # a mismatch raises before anything is written
        library.store.store_document(doc.id, [], library.embedder.encode(["x"]), "h", 0, 0)
    assert library.documents("docs")[0].chunks == 2
    with pytest.raises(IndexingError, match="does not exist"):
        library.add_paths("docs", [tmp_path / "missing.md"])
