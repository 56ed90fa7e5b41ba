"""The document index in the app's SQLite file: collections, documents, chunks, vectors, FTS5.

Our tables carry a `rag_` prefix and their own schema version (in `rag_meta`), so they evolve
apart from the app's migrations, which own PRAGMA user_version.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import apsw
import numpy as np

from core.errors import StoreError
from core.rag.chunk import CHUNKER_VERSION, Chunk
from core.rag.embed import DIMENSION
from core.store import open_database
from core.store.db import explain, write_transaction

STATUSES = ("pending", "indexed", "failed")


def _schema_1(conn: apsw.Connection) -> None:
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS rag_collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at REAL NOT NULL,
            version INTEGER NOT NULL DEFAULT 0  -- bumped on every change; readers' caches key on it
        );
        -- what the user added (files and folders), so folders can be rescanned
        CREATE TABLE IF NOT EXISTS rag_sources (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES rag_collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            excluded INTEGER NOT NULL DEFAULT 0,  -- 1: a file removed from an added folder
            UNIQUE (collection_id, path)
        );
        CREATE TABLE IF NOT EXISTS rag_documents (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES rag_collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            content_hash TEXT,
            mtime REAL,
            size INTEGER,
            status TEXT NOT NULL CHECK (status IN ('pending', 'indexed', 'failed')),
            error TEXT,
            chunk_count INTEGER NOT NULL DEFAULT 0,
            indexed_at REAL,
            UNIQUE (collection_id, path)
        );
        CREATE TABLE IF NOT EXISTS rag_chunks (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES rag_documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            page INTEGER,
            heading TEXT,
            text TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS rag_chunks_by_document ON rag_chunks(document_id);
        CREATE VIRTUAL TABLE IF NOT EXISTS rag_vectors USING vec0(
            chunk_id INTEGER PRIMARY KEY,
            collection_id INTEGER PARTITION KEY,
            embedding float[{DIMENSION}]
        );
        CREATE VIRTUAL TABLE IF NOT EXISTS rag_fts USING fts5(
            text, heading, content='', contentless_delete=1, tokenize='porter unicode61'
        );
        """
    )


def _schema_2(conn: apsw.Connection) -> None:
    # Which chunking rules made each document's chunks (core.rag.chunk.CHUNKER_VERSION);
    # documents indexed before this column existed were made by rules version 1.
    conn.execute("ALTER TABLE rag_documents ADD COLUMN chunker INTEGER NOT NULL DEFAULT 1")


def _schema_3(conn: apsw.Connection) -> None:
    # A few sentences per document written by the chat model (core/rag/summaries.py), for
    # questions about the whole collection. A summary belongs to the content it was made
    # from: when content_hash differs from the document's, it is stale and is written again.
    # Not in FTS: passages are searched, summaries are only shown.
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS rag_summaries (
            document_id INTEGER PRIMARY KEY REFERENCES rag_documents(id) ON DELETE CASCADE,
            content_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            summary TEXT NOT NULL,
            made_at REAL NOT NULL
        )
        """
    )


SCHEMA: list[Callable[[apsw.Connection], None]] = [_schema_1, _schema_2, _schema_3]


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    name: str
    created_at: float
    documents: int
    indexed: int
    failed: int
    pending: int
    chunks: int
    outdated: int = 0  # documents chunked by older rules: the next indexing run re-makes them


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    collection_id: int
    path: str
    status: str  # 'pending', 'indexed' or 'failed'
    error: str | None
    chunks: int
    content_hash: str | None
    mtime: float | None
    size: int | None
    indexed_at: float | None
    chunker: int = CHUNKER_VERSION  # the chunking rules its chunks were made by

    @property
    def outdated(self) -> bool:
        """Indexed by older chunking rules: the next indexing run re-makes its chunks."""
        return self.status == "indexed" and self.chunker != CHUNKER_VERSION


_DOC_COLUMNS = ("id, collection_id, path, status, error, chunk_count, content_hash, mtime, size, "
                "indexed_at, chunker")


def connect(path: Path) -> apsw.Connection:
    """Open the app database with sqlite-vec loaded and the index tables in place."""
    import sqlite_vec

    conn = open_database(path)
    try:
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.enable_load_extension(False)
        _migrate(conn)
    except apsw.Error as exc:
        conn.close()
        raise StoreError(f"The document index in {path} cannot be prepared: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: apsw.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS rag_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    while True:
        with write_transaction(conn):
            row = conn.execute(
                "SELECT value FROM rag_meta WHERE key = 'rag_schema_version'").fetchone()
            version = int(row[0]) if row else 0
            if version > len(SCHEMA):
                raise StoreError(f"The document index was made by a newer Glassbox (schema "
                                 f"{version}). Update Glassbox to use it.")
            if version == len(SCHEMA):
                return
            SCHEMA[version](conn)
            conn.execute("INSERT OR REPLACE INTO rag_meta VALUES ('rag_schema_version', ?)",
                         (str(version + 1),))


class IndexStore:
    """Reads and writes of the index. One connection, owned by the thread that made it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        self._tokenizer: Any = None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        try:
            with write_transaction(self.conn):
                yield
        except apsw.Error as exc:
            raise explain(exc, self.path) from exc

    # -- collections ------------------------------------------------------------------------
    def create_collection(self, name: str) -> int:
        with self._write():
            self.conn.execute("INSERT OR IGNORE INTO rag_collections(name, created_at) "
                              "VALUES (?, ?)", (name, time.time()))
        found = self.collection_id(name)
        assert found is not None
        return found

    def collection_id(self, name: str) -> int | None:
        row = self.conn.execute("SELECT id FROM rag_collections WHERE name = ?",
                                (name,)).fetchone()
        return None if row is None else int(row[0])

    def collection_version(self, collection_id: int) -> int:
        row = self.conn.execute("SELECT version FROM rag_collections WHERE id = ?",
                                (collection_id,)).fetchone()
        return -1 if row is None else int(row[0])

    def collections(self) -> list[CollectionInfo]:
        rows = self.conn.execute(
            "SELECT c.id, c.name, c.created_at, count(d.id), "
            "coalesce(sum(d.status = 'indexed'), 0), coalesce(sum(d.status = 'failed'), 0), "
            "coalesce(sum(d.status = 'pending'), 0), coalesce(sum(d.chunk_count), 0), "
            "coalesce(sum(d.status = 'indexed' AND d.chunker != ?), 0) "
            "FROM rag_collections c LEFT JOIN rag_documents d ON d.collection_id = c.id "
            "GROUP BY c.id ORDER BY c.name", (CHUNKER_VERSION,))
        return [CollectionInfo(*row) for row in rows]

    def remove_collection(self, collection_id: int) -> None:
        with self._write():
            self._delete_chunks("SELECT c.id FROM rag_chunks c JOIN rag_documents d ON "
                                "d.id = c.document_id WHERE d.collection_id = ?", collection_id)
            self.conn.execute("DELETE FROM rag_collections WHERE id = ?", (collection_id,))

    # -- sources and documents --------------------------------------------------------------
    def add_source(self, collection_id: int, path: str, excluded: bool = False) -> None:
        with self._write():
            self.conn.execute(
                "INSERT INTO rag_sources(collection_id, path, excluded) VALUES (?, ?, ?) "
                "ON CONFLICT (collection_id, path) DO UPDATE SET excluded = excluded.excluded",
                (collection_id, path, int(excluded)))

    def sources(self, collection_id: int, excluded: bool = False) -> list[str]:
        rows = self.conn.execute("SELECT path FROM rag_sources WHERE collection_id = ? "
                                 "AND excluded = ? ORDER BY path", (collection_id, int(excluded)))
        return [row[0] for row in rows]

    def remove_source(self, collection_id: int, path: str) -> None:
        with self._write():
            self.conn.execute("DELETE FROM rag_sources WHERE collection_id = ? AND path = ?",
                              (collection_id, path))

    def add_documents(self, collection_id: int, paths: Sequence[str]) -> None:
        """Register documents as pending; ones already known are left as they are."""
        with self._write():
            self.conn.executemany(
                "INSERT OR IGNORE INTO rag_documents(collection_id, path, status) "
                "VALUES (?, ?, 'pending')", [(collection_id, p) for p in paths])

    def documents(self, collection_id: int) -> list[DocumentInfo]:
        rows = self.conn.execute(f"SELECT {_DOC_COLUMNS} FROM rag_documents "
                                 "WHERE collection_id = ? ORDER BY path", (collection_id,))
        return [DocumentInfo(*row) for row in rows]

    def document(self, document_id: int) -> DocumentInfo | None:
        row = self.conn.execute(f"SELECT {_DOC_COLUMNS} FROM rag_documents WHERE id = ?",
                                (document_id,)).fetchone()
        return None if row is None else DocumentInfo(*row)

    def remove_documents(self, document_ids: Sequence[int]) -> None:
        with self._write():
            for document_id in document_ids:
                collection = self.conn.execute(
                    "SELECT collection_id FROM rag_documents WHERE id = ?",
                    (document_id,)).fetchone()
                self._delete_chunks("SELECT id FROM rag_chunks WHERE document_id = ?",
                                    document_id)
                self.conn.execute("DELETE FROM rag_documents WHERE id = ?", (document_id,))
                if collection:
                    self._bump(collection[0])

    def touch_document(self, document_id: int, mtime: float, size: int) -> None:
        """The file's time changed but its content did not: remember the new time."""
        with self._write():
            self.conn.execute("UPDATE rag_documents SET mtime = ?, size = ? WHERE id = ?",
                              (mtime, size, document_id))

    def fail_document(self, document_id: int, error: str, content_hash: str | None,
                      mtime: float | None, size: int | None) -> None:
        """Record why the document cannot be indexed; its old chunks (if any) are dropped."""
        with self._write():
            self._delete_chunks("SELECT id FROM rag_chunks WHERE document_id = ?", document_id)
            self.conn.execute(
                "UPDATE rag_documents SET status = 'failed', error = ?, content_hash = ?, "
                "mtime = ?, size = ?, chunk_count = 0, indexed_at = ? WHERE id = ?",
                (error, content_hash, mtime, size, time.time(), document_id))
            self._bump_for_document(document_id)

    def store_document(self, document_id: int, chunks: Sequence[Chunk], vectors: np.ndarray,
                       content_hash: str, mtime: float, size: int) -> None:
        """Replace the document's chunks in one transaction: a crash leaves old or new, whole."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk is needed")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._write():
            row = self.conn.execute("SELECT collection_id FROM rag_documents WHERE id = ?",
                                    (document_id,)).fetchone()
            if row is None:  # removed while it was being indexed: nothing to store
                return
            collection_id = row[0]
            self._delete_chunks("SELECT id FROM rag_chunks WHERE document_id = ?", document_id)
            for chunk, vector in zip(chunks, vectors, strict=True):
                self.conn.execute(
                    "INSERT INTO rag_chunks(document_id, ordinal, page, heading, text) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (document_id, chunk.ordinal, chunk.page, chunk.heading, chunk.text))
                chunk_id = self.conn.last_insert_rowid()
                self.conn.execute("INSERT INTO rag_vectors(chunk_id, collection_id, embedding) "
                                  "VALUES (?, ?, ?)", (chunk_id, collection_id, vector.tobytes()))
                self.conn.execute("INSERT INTO rag_fts(rowid, text, heading) VALUES (?, ?, ?)",
                                  (chunk_id, chunk.text, chunk.context or chunk.heading or ""))
            self.conn.execute(
                "UPDATE rag_documents SET status = 'indexed', error = NULL, content_hash = ?, "
                "mtime = ?, size = ?, chunk_count = ?, indexed_at = ?, chunker = ? WHERE id = ?",
                (content_hash, mtime, size, len(chunks), time.time(), CHUNKER_VERSION,
                 document_id))
            self._bump(collection_id)

    def _delete_chunks(self, id_query: str, param: int) -> None:
        ids = [(row[0],) for row in self.conn.execute(id_query, (param,))]
        if not ids:
            return
        self.conn.executemany("DELETE FROM rag_vectors WHERE chunk_id = ?", ids)
        self.conn.executemany("DELETE FROM rag_fts WHERE rowid = ?", ids)
        self.conn.executemany("DELETE FROM rag_chunks WHERE id = ?", ids)

    def _bump(self, collection_id: int) -> None:
        self.conn.execute("UPDATE rag_collections SET version = version + 1 WHERE id = ?",
                          (collection_id,))

    def _bump_for_document(self, document_id: int) -> None:
        self.conn.execute("UPDATE rag_collections SET version = version + 1 WHERE id = "
                          "(SELECT collection_id FROM rag_documents WHERE id = ?)",
                          (document_id,))

    # -- reads for retrieval ----------------------------------------------------------------
    def vectors(self, collection_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, (n, 384) float32 matrix) of every chunk in the collection."""
        rows = self.conn.execute("SELECT chunk_id, embedding FROM rag_vectors "
                                 "WHERE collection_id = ?", (collection_id,)).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        matrix = np.frombuffer(b"".join(cast(bytes, r[1]) for r in rows), dtype=np.float32)
        return ids, matrix.reshape(len(rows), DIMENSION)

    def read_vectors(self, collection_id: int,
                     sink: Callable[[np.ndarray, np.ndarray], None]) -> int:
        """Hand every (chunk ids, float32 rows) block of the collection to `sink`, from one
        snapshot, and return the collection version of that snapshot."""
        try:
            self.conn.execute("BEGIN")  # a read transaction: version and rows agree
            try:
                version = self.collection_version(collection_id)
                expected = self.chunk_count(collection_id)
                if not self._read_vector_chunks(collection_id, expected, sink):
                    for ids, rows in self._scan_vectors(collection_id):
                        sink(ids, rows)
            finally:
                self.conn.execute("COMMIT")
        except apsw.Error as exc:
            raise explain(exc, self.path) from exc
        return version

    def chunk_count(self, collection_id: int | None) -> int:
        """Chunks stored for the collection, or in the whole index for None."""
        row = self.conn.execute("SELECT coalesce(sum(chunk_count), 0) FROM rag_documents "
                                "WHERE status = 'indexed' AND (?1 IS NULL OR collection_id = ?1)",
                                (collection_id,)).fetchone()
        return int(row[0]) if row else 0

    def collection_versions(self) -> list[tuple[int, int]]:
        """(id, version) of every collection: changes whenever anything in the index does."""
        return [(int(r[0]), int(r[1]))
                for r in self.conn.execute("SELECT id, version FROM rag_collections ORDER BY id")]

    def _scan_vectors(self, collection_id: int,
                      step: int = 16_384) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The rows through vec0 itself: correct with any sqlite-vec, ~30 us a row."""
        cursor = self.conn.execute("SELECT chunk_id, embedding FROM rag_vectors "
                                   "WHERE collection_id = ?", (collection_id,))
        while rows := list(itertools.islice(cursor, step)):
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            matrix = np.frombuffer(b"".join(cast(bytes, r[1]) for r in rows), dtype=np.float32)
            yield ids, matrix.reshape(len(rows), DIMENSION)

    def _read_vector_chunks(self, collection_id: int, expected: int,
                            sink: Callable[[np.ndarray, np.ndarray], None]) -> bool:
        """Read vec0's own storage (blocks of 1,024 vectors with a validity bitmap), 20x as fast
        as a scan through vec0. This layout is sqlite-vec's, not a public API: anything
        unexpected (another layout, a count that does not add up) returns False before `sink`
        sees a row, and the caller scans through vec0 instead."""
        if not self._vec_layout_known():
            return False
        # First the block list, bitmaps and lengths (length() does not read a blob): does the
        # layout hold, and do the live slots add up to the collection's chunks?
        blocks: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        found = 0
        for size, validity, rowids, blob_row, length in self.conn.execute(
                "SELECT c.size, c.validity, c.rowids, v._rowid_, length(v.vectors) "
                "FROM rag_vectors_chunks c JOIN rag_vectors_vector_chunks00 v "
                "ON v.rowid = c.chunk_id WHERE c.partition00 = ? ORDER BY c.chunk_id",
                (collection_id,)):
            if (not isinstance(size, int) or not isinstance(validity, bytes)
                    or not isinstance(rowids, bytes) or len(validity) * 8 < size
                    or len(rowids) != size * 8 or length != size * DIMENSION * 4):
                return False
            valid = _valid(validity, size)
            blocks.append((cast(int, blob_row), size, valid,
                           np.frombuffer(rowids, dtype=np.int64)[valid]))
            found += len(blocks[-1][3])
        if found != expected:
            return False
        # Then the vectors, straight from each blob into one reused buffer (no bytes objects).
        buffer = np.empty(0, dtype=np.float32)
        for blob_row, size, valid, ids in blocks:
            if len(buffer) != size * DIMENSION:
                buffer = np.empty(size * DIMENSION, dtype=np.float32)
            with self.conn.blob_open("main", "rag_vectors_vector_chunks00", "vectors", blob_row,
                                     False) as blob:
                blob.read_into(buffer.data.cast("B"))
            sink(ids, buffer.reshape(size, DIMENSION)[valid])  # a masked copy: buffer is reused
        return True

    def _vec_layout_known(self) -> bool:
        want = {"rag_vectors_chunks": {"chunk_id", "size", "validity", "rowids", "partition00"},
                "rag_vectors_vector_chunks00": {"rowid", "vectors"}}
        for table, columns in want.items():
            have = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if not columns <= have:
                return False
        return True

    def bm25(self, match: str, collection_ids: Sequence[int],
             limit: int) -> list[tuple[int, float]]:
        """(chunk id, bm25) best first; SQLite's bm25 is lower-is-better, we return it negated.

        FTS5 ranks its matches by itself first (its sorter is much cheaper than joining every
        match), then the best are kept if they belong to the collections; when too few do, the
        next, deeper round asks for eight times as many."""
        fetch = limit * 2
        while True:
            ranked = self.conn.execute(
                "SELECT rowid, rank FROM rag_fts WHERE rag_fts MATCH ? "
                "AND rank MATCH 'bm25(1.0, 0.5)' ORDER BY rank LIMIT ?",
                (match, fetch)).fetchall()
            if not ranked:
                return []
            # By chunk id first (the planner would otherwise walk the collection's documents).
            wanted = set(collection_ids)
            ours = {r[0] for r in self.conn.execute(
                "SELECT c.id, d.collection_id FROM rag_chunks c CROSS JOIN rag_documents d "
                f"ON d.id = c.document_id WHERE c.id IN ({','.join('?' * len(ranked))})",
                tuple(r[0] for r in ranked)) if r[1] in wanted}
            kept = [(int(cast(int, r[0])), -float(cast(float, r[1]))) for r in ranked
                    if r[0] in ours]
            if len(kept) >= limit or len(ranked) < fetch:
                return kept[:limit]
            fetch *= 8

    def count_matches(self, match: str, cap: int) -> int:
        """Chunks matching the FTS5 query, counted up to `cap` (FTS5 stops there)."""
        row = self.conn.execute("SELECT count(*) FROM (SELECT rowid FROM rag_fts "
                                "WHERE rag_fts MATCH ? LIMIT ?)", (match, cap)).fetchone()
        return int(row[0]) if row else 0

    def documents_matching(self, match: str,
                           collection_ids: Sequence[int]) -> dict[int, int]:
        """document id -> how many of its chunks match the FTS5 query, for indexed documents
        of the collections (every match is counted: this is for exact answers)."""
        marks = ",".join("?" * len(collection_ids))
        rows = self.conn.execute(
            "SELECT d.id, count(*) FROM (SELECT rowid FROM rag_fts WHERE rag_fts MATCH ?) f "
            "JOIN rag_chunks c ON c.id = f.rowid JOIN rag_documents d ON d.id = c.document_id "
            f"WHERE d.collection_id IN ({marks}) AND d.status = 'indexed' GROUP BY d.id",
            (match, *collection_ids))
        return {int(r[0]): int(r[1]) for r in rows}

    def indexed_document_ids(self, collection_ids: Sequence[int]) -> list[int]:
        """Indexed documents of the collections, by path."""
        marks = ",".join("?" * len(collection_ids))
        return [int(r[0]) for r in self.conn.execute(
            f"SELECT id FROM rag_documents WHERE collection_id IN ({marks}) "
            "AND status = 'indexed' AND chunk_count > 0 ORDER BY path, id",
            tuple(collection_ids))]

    def document_outline(self, document_id: int, headings: int
                         ) -> tuple[str, str, int, int | None, list[str], str, int] | None:
        """(collection, path, chunks, last page, first `headings` distinct headings, first
        chunk's text, first chunk's id) of an indexed document, or None."""
        row = self.conn.execute(
            "SELECT k.name, d.path, d.chunk_count, (SELECT max(page) FROM rag_chunks "
            "WHERE document_id = d.id) FROM rag_documents d JOIN rag_collections k "
            "ON k.id = d.collection_id WHERE d.id = ?", (document_id,)).fetchone()
        first = self.conn.execute("SELECT id, text FROM rag_chunks WHERE document_id = ? "
                                  "ORDER BY ordinal LIMIT 1", (document_id,)).fetchone()
        if row is None or first is None:
            return None
        names = [str(r[0]) for r in self.conn.execute(
            "SELECT heading FROM rag_chunks WHERE document_id = ? AND heading IS NOT NULL "
            "AND heading != '' GROUP BY heading ORDER BY min(ordinal) LIMIT ?",
            (document_id, headings))]
        return (str(row[0]), str(row[1]), int(row[2]), None if row[3] is None else int(row[3]),
                names, str(first[1]), int(first[0]))

    # -- summaries (core/rag/summaries.py) --------------------------------------------------
    def documents_needing_summary(self, collection_id: int) -> list[DocumentInfo]:
        """Indexed documents of the collection with no summary, or one made from other
        content (the document was re-indexed since), by path."""
        columns = ", ".join(f"d.{c.strip()}" for c in _DOC_COLUMNS.split(","))
        rows = self.conn.execute(
            f"SELECT {columns} FROM rag_documents d LEFT JOIN rag_summaries s "
            "ON s.document_id = d.id WHERE d.collection_id = ? AND d.status = 'indexed' "
            "AND d.chunk_count > 0 AND (s.document_id IS NULL OR s.content_hash IS NOT "
            "d.content_hash) ORDER BY d.path, d.id", (collection_id,))
        return [DocumentInfo(*row) for row in rows]

    def set_summary(self, document_id: int, content_hash: str, model: str,
                    summary: str) -> bool:
        """Store the document's summary of the content `content_hash`, replacing any older
        one. False when the document was removed meanwhile (nothing is stored)."""
        with self._write():
            self.conn.execute(
                "INSERT OR REPLACE INTO rag_summaries(document_id, content_hash, model, "
                "summary, made_at) SELECT id, ?, ?, ?, ? FROM rag_documents WHERE id = ?",
                (content_hash, model, summary, time.time(), document_id))
            return self.conn.changes() > 0

    def summaries(self, collection_ids: Sequence[int]
                  ) -> list[tuple[int, str, str, str, float]]:
        """(document id, path, summary, model, made at) of the collections' indexed documents
        whose summary is of their current content, by path."""
        marks = ",".join("?" * len(collection_ids))
        rows = self.conn.execute(
            "SELECT d.id, d.path, s.summary, s.model, s.made_at FROM rag_summaries s "
            "JOIN rag_documents d ON d.id = s.document_id "
            f"WHERE d.collection_id IN ({marks}) AND d.status = 'indexed' "
            "AND s.content_hash = d.content_hash ORDER BY d.path, d.id", tuple(collection_ids))
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4])) for r in rows]

    def first_texts(self, document_id: int, limit: int) -> list[str]:
        """The texts of the document's first `limit` chunks, in order."""
        return [str(r[0]) for r in self.conn.execute(
            "SELECT text FROM rag_chunks WHERE document_id = ? ORDER BY ordinal LIMIT ?",
            (document_id, limit))]

    def fts_tokens(self, text: str) -> list[str]:
        """`text` split and stemmed as the FTS5 table splits a query."""
        if self._tokenizer is None:
            self._tokenizer = self.conn.fts5_tokenizer("porter", ["unicode61"])
        return [str(t[2]) for t in self._tokenizer(text.encode(), apsw.FTS5_TOKENIZE_QUERY, None)
                if len(t) >= 3]

    def chunk_rows(self, chunk_ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        """chunk id -> (collection name, path, page, heading, text, document id)."""
        marks = ",".join("?" * len(chunk_ids))
        rows = self.conn.execute(
            "SELECT c.id, k.name, d.path, c.page, c.heading, c.text, d.id FROM rag_chunks c "
            "JOIN rag_documents d ON d.id = c.document_id "
            f"JOIN rag_collections k ON k.id = d.collection_id WHERE c.id IN ({marks})",
            tuple(chunk_ids))
        return {int(r[0]): tuple(r[1:]) for r in rows}

    def chunk_ordinals(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """chunk id -> its position in its document (from 0)."""
        marks = ",".join("?" * len(chunk_ids))
        rows = self.conn.execute(f"SELECT id, ordinal FROM rag_chunks WHERE id IN ({marks})",
                                 tuple(chunk_ids))
        return {int(r[0]): int(r[1]) for r in rows}


def _valid(validity: bytes, size: int) -> np.ndarray:
    """The slots of a vec0 block that hold a live vector (bit i of the bitmap, low bit first)."""
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    return bits[:size].astype(bool)
