"""When the chunking rules change (core.rag.chunk.CHUNKER_VERSION), existing collections are
re-made by the next indexing run, with progress, and nothing is lost on the way (issue 17)."""

from __future__ import annotations

from pathlib import Path

import apsw

from core.rag import index_store
from core.rag.chunk import CHUNKER_VERSION, Chunker
from core.rag.embed import Embedder
from core.rag.library import DocumentLibrary, IndexProgress


def _age(lib: DocumentLibrary, version: int = 1) -> None:
    """Make every indexed document look chunked by older rules."""
    with lib.store.conn:
        lib.store.conn.execute("UPDATE rag_documents SET chunker = ?", (version,))


def test_documents_chunked_by_older_rules_are_remade_with_progress(
        embedder: Embedder, chunker: Chunker, corpus: Path, tmp_path: Path) -> None:
    with DocumentLibrary(tmp_path / "g.sqlite3", embedder=embedder, chunker=chunker,
                         parse_time_limit_s=30) as lib:
        lib.add_paths("c", [corpus])
        assert lib.index("c").indexed == 4
        assert lib.index("c").skipped == 4  # nothing changed: nothing re-made
        _age(lib)
        assert all(d.outdated for d in lib.documents("c"))
        assert lib.collection("c").outdated == 4  # what the Documents tab re-makes at start
        events: list[IndexProgress] = []
        summary = lib.index("c", progress=events.append)
        assert (summary.indexed, summary.failed, summary.skipped) == (4, 0, 0)
        assert [e.stage for e in events].count("embedding") >= 4  # progress as it goes
        documents = lib.documents("c")
        assert all(d.chunker == CHUNKER_VERSION and not d.outdated for d in documents)
        assert all(d.status == "indexed" and d.chunks > 0 for d in documents)
        hits = lib.search("capital of Freedonia", "c", top_k=1)
        assert hits and "Zubrowka" in hits[0].text
        assert lib.index("c").skipped == 4  # and once re-made, left alone
        assert lib.collection("c").outdated == 0


def test_remaking_that_fails_keeps_the_earlier_chunks(
        embedder: Embedder, chunker: Chunker, corpus: Path, tmp_path: Path) -> None:
    with DocumentLibrary(tmp_path / "g.sqlite3", embedder=embedder, chunker=chunker,
                         parse_time_limit_s=30) as lib:
        lib.add_paths("c", [corpus])
        lib.index("c")
        before = {d.path: d.chunks for d in lib.documents("c")}
        _age(lib)
        lib.parse_time_limit_s = 1e-6  # every parse now runs out of time
        events: list[IndexProgress] = []
        summary = lib.index("c", progress=events.append)
        assert summary.failed == 0 and summary.skipped == 4
        assert all("kept its earlier index" in (e.error or "")
                   for e in events if e.stage == "skipped")
        after = lib.documents("c")
        assert {d.path: d.chunks for d in after} == before
        assert all(d.status == "indexed" and d.outdated for d in after)
        assert lib.search("capital of Freedonia", "c", top_k=1)  # still searchable


def test_an_index_made_before_the_chunker_column_is_migrated_and_remade(
        embedder: Embedder, chunker: Chunker, corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "g.sqlite3"
    with DocumentLibrary(db, embedder=embedder, chunker=chunker, parse_time_limit_s=30) as lib:
        lib.add_paths("c", [corpus])
        lib.index("c")
    # Back to schema 1, as a Glassbox from before issue 17 left it.
    conn = apsw.Connection(str(db))
    conn.execute("ALTER TABLE rag_documents DROP COLUMN chunker")
    conn.execute("UPDATE rag_meta SET value = '1' WHERE key = 'rag_schema_version'")
    conn.close()
    assert len(index_store.SCHEMA) >= 2  # later migrations (summaries: 3) run after it
    with DocumentLibrary(db, embedder=embedder, chunker=chunker, parse_time_limit_s=30) as lib:
        assert all(d.chunker == 1 and d.outdated for d in lib.documents("c"))
        assert lib.search("capital of Freedonia", "c", top_k=1)  # usable before re-making
        assert lib.index("c").indexed == 4
        assert not any(d.outdated for d in lib.documents("c"))
