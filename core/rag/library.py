"""The public API of local documents: collections, indexing and search.

Used alike by the desktop app (from a worker thread), the CLI, tests and benchmarks. Long work
is an iterator of plain `IndexProgress` events with a cancel token, so the GUI can drive it
from a worker and forward each event as a signal.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import numpy as np

from core.background import background_work
from core.config import database_path
from core.rag.chunk import Chunk, Chunker, document_title
from core.rag.collection_questions import (
    CollectionQuestion,
    DocumentCard,
    fts_phrase,
    lead_text,
    rank_documents,
)
from core.rag.embed import Embedder, default_embedder
from core.rag.errors import IndexingError, UnknownCollection
from core.rag.index_store import CollectionInfo, DocumentInfo, IndexStore
from core.rag.parse import is_supported
from core.rag.parse_worker import DEFAULT_TIME_LIMIT_S, ParserProcess
from core.rag.retrieve import RRF_K, Hit, Retriever
from core.rag.summary_types import DocumentSummary

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.rag.summary_types import SummaryProgress

# A whole-collection answer lists at most this many documents (the window fits fewer), ranks
# them by their best this-many passages, and shows this many section headings of each.
OVERVIEW_LIMIT = 60
OVERVIEW_PASSAGES = 40
OVERVIEW_HEADINGS = 6
# "Which files..." lists documents within this share of the best one's relevance; "how many"
# with no document mentioning the topic shows this many nearest by meaning.
OVERVIEW_CLOSE = 0.5
OVERVIEW_NEAREST = 3

STAGES = ("started", "embedding", "indexed", "skipped", "failed", "finished", "cancelled")


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class IndexProgress:
    """One step of indexing. `stage` is one of STAGES; the last event is finished/cancelled."""

    stage: str
    files_done: int
    files_total: int
    chunks_done: int  # chunks embedded in this run so far
    path: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None


@dataclass
class IndexSummary:
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    chunks: int = 0
    cancelled: bool = False
    elapsed_s: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


@dataclass
class _Job:
    document: DocumentInfo
    mtime: float
    size: int
    digest: str


class DocumentLibrary:
    """Collections of documents in the app database. Owned by one thread (one connection)."""

    def __init__(self, db_path: Path | None = None, embedder: Embedder | None = None,
                 parse_time_limit_s: float = DEFAULT_TIME_LIMIT_S,
                 chunker: Chunker | None = None) -> None:
        self.store = IndexStore(db_path or database_path())
        self.embedder = embedder or default_embedder()
        self.parse_time_limit_s = parse_time_limit_s
        self._chunker = chunker
        self._retriever = Retriever(self.store, self.embedder)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> DocumentLibrary:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- collections ------------------------------------------------------------------------
    def create_collection(self, name: str) -> CollectionInfo:
        """Create the collection (or return the existing one of that name)."""
        name = name.strip()
        if not name:
            raise UnknownCollection("A collection needs a name.")
        self.store.create_collection(name)
        return self.collection(name)

    def collection(self, name: str) -> CollectionInfo:
        for info in self.store.collections():
            if info.name == name:
                return info
        raise UnknownCollection(f"There is no collection named {name!r}. Add documents to it "
                                "first (glassbox docs add PATH --collection NAME).")

    def list_collections(self) -> list[CollectionInfo]:
        return self.store.collections()

    def remove_collection(self, name: str) -> None:
        """Remove the collection, its documents and their index (the files stay on disk)."""
        self.store.remove_collection(self.collection(name).id)

    def documents(self, name: str) -> list[DocumentInfo]:
        return self.store.documents(self.collection(name).id)

    def watched_folders(self, name: str) -> list[str]:
        """The folders added to the collection (not single files), for a `FolderWatcher`:
        new files can only appear in those. Folders missing right now are left out."""
        return [s for s in self.store.sources(self.collection(name).id) if os.path.isdir(s)]

    # -- documents --------------------------------------------------------------------------
    def add_paths(self, name: str, paths: Iterable[Path | str]) -> list[DocumentInfo]:
        """Add files and folders (searched recursively) to the collection, creating it if
        needed. The documents are pending until `index()` runs. Returns the collection's
        documents. Raises IndexingError for a path that does not exist."""
        resolved = [Path(p).expanduser().resolve() for p in paths]
        for path in resolved:
            if not path.exists():
                raise IndexingError(f"{path} does not exist.")
        collection_id = self.create_collection(name).id
        for path in resolved:
            self.store.add_source(collection_id, str(path))
        self._rescan(collection_id)
        return self.store.documents(collection_id)

    def remove_path(self, name: str, path: Path | str) -> int:
        """Remove a document, or every document under a folder; returns how many went.

        A file removed from an added folder is remembered as excluded, so rescans keep it out.
        """
        collection_id = self.collection(name).id
        target = Path(path).expanduser().resolve()
        prefix = str(target) + os.sep
        doomed = [d.id for d in self.store.documents(collection_id)
                  if d.path == str(target) or d.path.startswith(prefix)]
        sources = self.store.sources(collection_id)
        for source in sources:
            if source == str(target) or source.startswith(prefix):
                self.store.remove_source(collection_id, source)
        if any(str(target).startswith(s + os.sep) for s in sources):
            self.store.add_source(collection_id, str(target), excluded=True)
        self.store.remove_documents(doomed)
        return len(doomed)

    def _rescan(self, collection_id: int) -> int:
        """Register new files under the sources; drop documents whose file is gone."""
        excluded = self.store.sources(collection_id, excluded=True)
        found: list[str] = []
        for source in self.store.sources(collection_id):
            found.extend(p for p in _files_under(Path(source))
                         if not any(p == x or p.startswith(x + os.sep) for x in excluded))
        self.store.add_documents(collection_id, found)
        gone = [d.id for d in self.store.documents(collection_id) if not os.path.exists(d.path)]
        self.store.remove_documents(gone)
        return len(gone)

    # -- indexing ---------------------------------------------------------------------------
    def index(self, name: str, progress: Callable[[IndexProgress], None] | None = None,
              cancel: CancelToken | None = None, retry_failed: bool = False) -> IndexSummary:
        """Index the collection (see `index_events`), calling `progress` for every event."""
        summary = IndexSummary()
        for event in self.index_events(name, cancel, retry_failed):
            if progress is not None:
                progress(event)
            if event.stage == "indexed":
                summary.indexed += 1
            elif event.stage == "skipped":
                summary.skipped += 1
            elif event.stage == "failed":
                summary.failed += 1
                summary.failures.append((event.path or "", event.error or ""))
            elif event.stage in ("finished", "cancelled"):
                summary.cancelled = event.stage == "cancelled"
                summary.chunks = event.chunks_done
                summary.elapsed_s = event.elapsed_s
        return summary

    def index_events(self, name: str, cancel: CancelToken | None = None,
                     retry_failed: bool = False) -> Iterator[IndexProgress]:
        """Bring the collection's index up to date, one event per step.

        Folders are rescanned; unchanged documents (same mtime and size, or same content hash)
        are skipped, and so are failed ones unless `retry_failed`. Each changed document is
        parsed in a child process with a time limit, chunked, embedded and stored in one
        transaction. A bad file is recorded as failed on its document and the batch goes on.
        Parsing the next file overlaps with embedding this one. When `cancel` is set, the
        document in progress is left as it was and the last event has stage 'cancelled'; the
        next run picks up where this one stopped.
        """
        run = _IndexRun(self, self.collection(name).id, cancel, retry_failed)
        yield from run.events()

    # -- summaries --------------------------------------------------------------------------
    def summarize_events(self, name: str, engine: EngineClient,
                         cancel: CancelToken | None = None,
                         max_tokens: int = 80) -> Iterator[SummaryProgress]:
        """Write the missing and stale summaries of the collection's documents with the chat
        model loaded in `engine` (see core.rag.summaries.summarize_events)."""
        from core.rag.summaries import summarize_events

        return summarize_events(self, name, engine, cancel, max_tokens)

    def documents_needing_summary(self, name: str) -> list[DocumentInfo]:
        """The collection's indexed documents with no summary of their current content: what
        a summary run would write (none means no model needs to start)."""
        return self.store.documents_needing_summary(self.collection(name).id)

    def summaries(self, name: str) -> dict[str, DocumentSummary]:
        """path -> summary of the collection's documents whose summary is of their current
        content (stale ones, from before the document changed, are left out)."""
        return {path: DocumentSummary(path, text, model, made_at) for _, path, text, model,
                made_at in self.store.summaries([self.collection(name).id])}

    # -- search -----------------------------------------------------------------------------
    def search(self, query: str, collections: str | Sequence[str], top_k: int = 5,
               mode: str = "hybrid") -> list[Hit]:
        """The best passages for `query` in the named collections. `mode`: hybrid, dense or
        bm25 (the last two for evaluation and the Sources pane)."""
        names = [collections] if isinstance(collections, str) else list(collections)
        ids = [self.collection(n).id for n in names]
        return self._retriever.search(query, ids, top_k=top_k, mode=mode)

    def collection_overview(self, question: CollectionQuestion,
                            collections: str | Sequence[str],
                            limit: int = OVERVIEW_LIMIT) -> list[Hit]:
        """One entry per document for a question about the collections as a whole (see
        core/rag/collection_questions.py), best first, at most `limit`. Every hit carries the
        counts: documents in the collections, and those that mention the topic."""
        names = [collections] if isinstance(collections, str) else list(collections)
        ids = [self.collection(n).id for n in names]
        documents = every = self.store.indexed_document_ids(ids)
        topic = question.topic
        matches: dict[int, int] = {}
        relevance: dict[int, float] = {}
        if topic is not None:
            phrase = fts_phrase(topic)
            matches = self.store.documents_matching(phrase, ids) if phrase else {}
            # Relevance by meaning as well as by words: documents holding the best passages.
            for hit in self._retriever.search(topic, ids, top_k=OVERVIEW_PASSAGES):
                relevance[hit.document_id] = relevance.get(hit.document_id, 0.0) + \
                    1.0 / (RRF_K + hit.rank)
            for document_id, count in matches.items():
                relevance[document_id] = relevance.get(document_id, 0.0) + \
                    1.0 / (RRF_K + 1) * min(count, 3)
            documents = [d for d in documents if d in relevance]
        summaries = {row[0]: row[2] for row in self.store.summaries(ids)}
        cards = []
        for document_id in documents:
            outline = self.store.document_outline(document_id, OVERVIEW_HEADINGS)
            if outline is None:
                continue
            collection, path, chunks, pages, headings, first, first_id = outline
            cards.append(DocumentCard(
                document_id, collection, path, document_title(path),
                tuple(h[:80] for h in headings), lead_text(first), chunks, pages, first_id,
                matches.get(document_id, 0) if topic is not None else None,
                relevance.get(document_id, 0.0), summaries.get(document_id)))
        ranked = rank_documents(_worth_listing(question, cards))[:limit]
        counts = (len(every), len(matches) if topic is not None else None)
        return [Hit(card.first_chunk_id, card.document_id, card.collection, card.path,
                    None, None, card.text(topic), None, None, None, None, card.relevance,
                    rank, (card.first_chunk_id,), "document", counts)
                for rank, card in enumerate(ranked, start=1)]

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker()
        return self._chunker


def _worth_listing(question: CollectionQuestion,
                   cards: list[DocumentCard]) -> list[DocumentCard]:
    """The documents a topic question lists: for "how many", those that mention the topic
    (when none does, the few nearest by meaning, so the model can say so); for "which", those
    that mention it or come close by meaning to the best (dense search ranks every document,
    relevant or not). Without a topic, all."""
    if question.topic is None or not cards:
        return cards
    mentioning = [c for c in cards if c.matches]
    if question.kind == "count":
        return mentioning or rank_documents(cards)[:OVERVIEW_NEAREST]
    best = max(c.relevance for c in cards)
    return [c for c in cards if c.matches or c.relevance >= best * OVERVIEW_CLOSE]


class _IndexRun:
    """One pass of `index_events` over one collection."""

    def __init__(self, library: DocumentLibrary, collection_id: int,
                 cancel: CancelToken | None, retry_failed: bool) -> None:
        self.lib = library
        self.retry_failed = retry_failed
        self.store = library.store
        self.collection_id = collection_id
        self.cancel = cancel
        self.started = time.monotonic()
        self.files_done = 0
        self.files_total = 0
        self.chunks_done = 0
        self.bytes_total = 0
        self.bytes_done = 0

    def _event(self, stage: str, path: str | None = None,
               error: str | None = None) -> IndexProgress:
        elapsed = time.monotonic() - self.started
        eta = None
        if 0 < self.bytes_done < self.bytes_total:
            eta = elapsed * (self.bytes_total - self.bytes_done) / self.bytes_done
        elif self.bytes_done >= self.bytes_total:
            eta = 0.0
        return IndexProgress(stage, self.files_done, self.files_total, self.chunks_done, path,
                             error, elapsed, eta)

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def events(self) -> Iterator[IndexProgress]:
        self.lib._rescan(self.collection_id)
        documents = self.store.documents(self.collection_id)
        self.files_total = len(documents)
        queue: deque[DocumentInfo] = deque()
        unchanged: list[str] = []
        for doc in documents:
            st = _stat(doc.path)
            retry = (doc.status == "pending" or (doc.status == "failed" and self.retry_failed)
                     or doc.outdated)  # chunked by older rules: re-made, with progress
            if st and not retry and (doc.mtime, doc.size) == (st.st_mtime, st.st_size):
                unchanged.append(doc.path)  # same time and size as last time: not even hashed
            else:
                queue.append(doc)
                self.bytes_total += st.st_size if st else 0
        yield self._event("started")
        for path in unchanged:
            self.files_done += 1
            yield self._event("skipped", path)
        parser = ParserProcess(self.lib.parse_time_limit_s)
        try:
            yield from self._work(queue, parser)
        finally:
            parser.close()

    def _work(self, queue: deque[DocumentInfo],
              parser: ParserProcess) -> Iterator[IndexProgress]:
        skipped: list[IndexProgress] = []
        current = self._submit_next(queue, parser, skipped)
        while True:
            yield from skipped
            skipped.clear()
            if current is None:
                break
            if self._cancelled():
                yield self._event("cancelled")
                return
            job, failure = current
            if failure is not None:
                yield self._fail(job, failure)
                current = self._submit_next(queue, parser, skipped)
                continue
            try:
                sections = parser.result()
            except IndexingError as exc:
                yield self._fail(job, str(exc))
                current = self._submit_next(queue, parser, skipped)
                continue
            following = self._submit_next(queue, parser, skipped)  # parses while we embed
            chunks = self.lib.chunker.chunk(sections, document_title(job.document.path))
            vectors: list[np.ndarray] = []
            for start in range(0, len(chunks), self.lib.embedder.batch_size):
                if self._cancelled():
                    yield self._event("cancelled")
                    return
                batch = chunks[start:start + self.lib.embedder.batch_size]
                with background_work():  # yields the CPU while a model generates
                    vectors.append(self.lib.embedder.encode([c.embedding_text for c in batch]))
                self.chunks_done += len(batch)
                yield self._event("embedding", job.document.path)
            self._store(job, chunks, vectors)
            self.files_done += 1
            self.bytes_done += job.size
            yield self._event("indexed", job.document.path)
            current = following
        yield self._event("finished")

    def _submit_next(self, queue: deque[DocumentInfo], parser: ParserProcess,
                     skipped: list[IndexProgress]) -> tuple[_Job, str | None] | None:
        """Hash the next changed document and hand it to the parser. Documents whose content
        did not change are settled here (their events go to `skipped`)."""
        while queue:
            doc = queue.popleft()
            job = _Job(doc, 0.0, 0, "")
            try:
                st = os.stat(doc.path)
                if not stat.S_ISREG(st.st_mode):
                    return job, "it is not a regular file"
                job = _Job(doc, st.st_mtime, st.st_size, _hash_file(doc.path))
            except OSError as exc:
                return job, f"the file cannot be read: {exc.strerror or exc}"
            retry = (doc.status == "pending" or (doc.status == "failed" and self.retry_failed)
                     or doc.outdated)
            if not retry and job.digest == doc.content_hash:
                self.store.touch_document(doc.id, job.mtime, job.size)
                self.files_done += 1
                self.bytes_done += job.size
                skipped.append(self._event("skipped", doc.path))
                continue
            parser.submit(Path(doc.path))
            return job, None
        return None

    def _fail(self, job: _Job, reason: str) -> IndexProgress:
        if job.document.outdated and job.digest in ("", job.document.content_hash):
            # Only the chunking rules changed, and re-making failed: keep the chunks it has.
            self.files_done += 1
            self.bytes_done += job.size
            return self._event("skipped", job.document.path,
                               f"kept its earlier index, which could not be re-made: {reason}")
        self.store.fail_document(job.document.id, reason, job.digest or None,
                                 job.mtime or None, job.size or None)
        self.files_done += 1
        self.bytes_done += job.size
        return self._event("failed", job.document.path, reason)

    def _store(self, job: _Job, chunks: list[Chunk], vectors: list[np.ndarray]) -> None:
        matrix = (np.concatenate(vectors) if vectors
                  else np.zeros((0, self.lib.embedder.dimension), dtype=np.float32))
        self.store.store_document(job.document.id, chunks, matrix, job.digest, job.mtime,
                                  job.size)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_under(path: Path) -> list[str]:
    """The file itself, or the supported regular files under a folder (hidden ones skipped)."""
    if path.is_file():
        return [str(path)]
    if not path.is_dir():
        return []
    found = []
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            full = Path(folder) / name
            if not name.startswith(".") and is_supported(full) and full.is_file():
                found.append(str(full))
    return found
