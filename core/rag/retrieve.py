"""Hybrid retrieval: dense vectors and BM25 (FTS5), merged by reciprocal rank fusion.

The dense side keeps a VectorIndex per collection in memory (exact numpy brute force for small
collections, binary codes with float rescoring for large ones; either is many times faster
than sqlite-vec's KNN here); the cache is keyed on the collection's version, which every write
bumps, so other connections' writes are seen. The BM25 side leaves out the words that would
cost it most and tell it least (stop words, then the commonest), so its work stays bounded.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.rag.embed import DIMENSION, Embedder
from core.rag.index_store import IndexStore
from core.rag.vector_index import EXACT_BELOW, VectorIndex, VectorIndexBuilder

RRF_K = 60  # the constant from Cormack et al. (2009); ranks matter, raw scores do not
# Hybrid search ranks documents as well as passages: each candidate adds this many times the
# best fused score of any passage of its document. So the passages of the document that
# answers best come before a stray good passage of another (a question is usually answered by
# one document), while a document ranks by its best passage, not by how many it has: summing
# its passages let long pages win (measured on the tuning halves, bench/README.md).
DOCUMENT_WEIGHT = 2.0
MODES = ("hybrid", "dense", "bm25")
# Neighbouring chunks of one page among the results are one passage (at most this many), so
# the top results are not fragments of a single spot and a passage holds what surrounds it.
PASSAGE_CHUNKS = 3
_MIN_OVERLAP_CHARS, _MAX_OVERLAP_CHARS = 20, 1200  # the chunker's overlap, in characters
# Chunks sharing this share of their distinct words are copies: only the first is shown.
NEAR_COPY = 0.9
# Words of a question BM25 looks at: a pasted page of text need not cost a probe per word.
MAX_QUERY_WORDS = 64


@dataclass(frozen=True)
class Hit:
    """One retrieved passage and why it was chosen."""

    chunk_id: int
    document_id: int
    collection: str
    path: str
    page: int | None
    heading: str | None
    text: str
    vector_score: float | None  # cosine similarity, or None if not among the dense candidates
    bm25_score: float | None  # higher is better, or None if no query word matched
    vector_rank: int | None  # 1-based rank in each list
    bm25_rank: int | None
    score: float  # the fused score (in 'dense' or 'bm25' mode, that list's own score)
    rank: int  # 1-based final rank
    chunk_ids: tuple[int, ...] = ()  # every chunk the passage joins (chunk_id and neighbours)
    # "document": a whole document's entry, for a question about the collection (see
    # core/rag/collection_questions.py); then `collection_counts` is (documents in the
    # collections, documents mentioning the question's topic or None).
    kind: str = "passage"
    collection_counts: tuple[int, int | None] | None = None


class Retriever:
    """Searches the collections of one IndexStore; owned by the same thread as the store."""

    def __init__(self, store: IndexStore, embedder: Embedder, candidates: int = 50,
                 exact_below: int = EXACT_BELOW) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self.exact_below = exact_below
        self._indexes: dict[int, tuple[int, VectorIndex]] = {}  # collection -> (version, index)
        self._terms = _TermStats(store)

    def search(self, query: str, collection_ids: Sequence[int], top_k: int = 5,
               mode: str = "hybrid", vector: np.ndarray | None = None) -> list[Hit]:
        """The best `top_k` passages for `query` in the given collections, best first.
        `vector`: the query's embedding when the caller already has it."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if not collection_ids or top_k < 1 or not any(c.isalnum() for c in query):
            return []  # no word to look for (symbols, emoji, blanks): nothing relevant
        depth = max(self.candidates, top_k)
        dense: list[tuple[int, float]] = []
        if mode != "bm25":
            if vector is None:
                vector = self.embedder.encode([query])[0]
            dense = self.dense(vector, collection_ids, depth)
        lexical = self._bm25(query, collection_ids, depth) if mode != "dense" else []
        return self._fuse(dense, lexical, top_k, mode)

    def dense(self, vector: np.ndarray, collection_ids: Sequence[int],
              depth: int) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the `depth` nearest chunks, best first."""
        ids_parts, score_parts = [], []
        for collection_id in collection_ids:
            ids, scores = self.index(collection_id).search(vector, depth)
            ids_parts.append(ids)
            score_parts.append(scores)
        ids = np.concatenate(ids_parts)
        scores = np.concatenate(score_parts)
        best = np.argsort(-scores, kind="stable")[:depth]
        return [(int(ids[i]), float(scores[i])) for i in best]

    def index(self, collection_id: int) -> VectorIndex:
        """The collection's in-memory index, reloaded when its version moved (any write)."""
        version = self.store.collection_version(collection_id)
        cached = self._indexes.get(collection_id)
        if cached is None or cached[0] != version:
            self._indexes.pop(collection_id, None)  # let the old one go before the new loads
            builder = VectorIndexBuilder(DIMENSION,
                                         self.store.chunk_count(collection_id), self.exact_below)
            version = self.store.read_vectors(collection_id, builder.add)
            cached = (version, builder.build())
            self._indexes[collection_id] = cached
        return cached[1]

    def cache_bytes(self) -> int:
        """Memory held by the cached dense indexes."""
        return sum(index.nbytes for _, index in self._indexes.values())

    def _bm25(self, query: str, collection_ids: Sequence[int],
              depth: int) -> list[tuple[int, float]]:
        match = self._terms.match(query)
        return self.store.bm25(match, collection_ids, depth) if match else []

    def _fuse(self, dense: list[tuple[int, float]], lexical: list[tuple[int, float]],
              top_k: int, mode: str) -> list[Hit]:
        vector = {cid: (rank, s) for rank, (cid, s) in enumerate(dense, start=1)}
        bm25 = {cid: (rank, s) for rank, (cid, s) in enumerate(lexical, start=1)}
        fused: dict[int, float] = {}
        for ranks in (vector, bm25):
            for cid, (rank, _) in ranks.items():
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
        if mode == "dense":
            fused = {cid: s for cid, (_, s) in vector.items()}
        elif mode == "bm25":
            fused = {cid: s for cid, (_, s) in bm25.items()}
        elif fused:
            fused = self._with_documents(fused)
        # Each passage takes one candidate, or up to PASSAGE_CHUNKS when neighbours join it; a
        # candidate that copies a chosen chunk (the same file in two folders, a page and its
        # PDF print) is passed over and the window reaches one candidate further.
        ranked = sorted(fused, key=lambda cid: (-fused[cid], cid))
        window = top_k * PASSAGE_CHUNKS
        reach = ranked[:window * 2]
        rows = self.store.chunk_rows(reach) if reach else {}
        ordinals = self.store.chunk_ordinals(reach) if reach else {}
        passages: list[list[int]] = []
        chosen: list[frozenset[str]] = []  # the words of each chunk taken so far
        at = 0
        while at < min(window, len(reach)):
            cid = reach[at]
            at += 1
            if cid not in rows:  # deleted between the reads
                continue
            words = _words(rows[cid][4])
            if any(_copies(words, other) for other in chosen):
                window += 1
                continue
            joined = next((p for p in passages if len(p) < PASSAGE_CHUNKS
                           and _neighbours(rows, ordinals, p, cid)), None)
            if joined is not None:
                joined.append(cid)
            elif len(passages) < top_k:
                passages.append([cid])
            else:
                break
            chosen.append(words)
        hits: list[Hit] = []
        for passage in passages:
            best = passage[0]
            collection, path, page, heading, _, document_id = rows[best]
            v, b = vector.get(best), bm25.get(best)
            hits.append(Hit(
                chunk_id=best, document_id=document_id, collection=collection, path=path,
                page=page, heading=heading,
                text=_join([rows[c][4] for c in sorted(passage, key=ordinals.__getitem__)]),
                vector_score=v[1] if v else None, bm25_score=b[1] if b else None,
                vector_rank=v[0] if v else None, bm25_rank=b[0] if b else None,
                score=fused[best], rank=len(hits) + 1, chunk_ids=tuple(sorted(passage)),
            ))
        return hits


    def _with_documents(self, fused: dict[int, float]) -> dict[int, float]:
        """Each candidate's fused score plus DOCUMENT_WEIGHT times its document's best."""
        documents = self.store.chunk_documents(list(fused))
        best: dict[int, float] = {}
        for cid, value in fused.items():
            document = documents.get(cid)
            if document is not None and value > best.get(document, 0.0):
                best[document] = value
        return {cid: value + DOCUMENT_WEIGHT * best.get(documents.get(cid, -1), 0.0)
                for cid, value in fused.items()}


def _neighbours(rows: dict[int, tuple[Any, ...]], ordinals: dict[int, int],
                passage: list[int], cid: int) -> bool:
    """Whether chunk `cid` continues `passage`: the same document and page, next to one of
    its chunks."""
    _, _, page, _, _, document = rows[cid]
    return any(rows[c][5] == document and rows[c][2] == page
               and abs(ordinals[c] - ordinals[cid]) == 1 for c in passage)


def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


def _copies(words: frozenset[str], other: frozenset[str]) -> bool:
    """Whether two chunks are near-copies: nine in ten of their distinct words shared."""
    if not words or not other:
        return words == other
    return len(words & other) >= NEAR_COPY * len(words | other)


def _join(texts: list[str]) -> str:
    """Consecutive chunks as one passage, the text they overlap on written once."""
    out = texts[0]
    for text in texts[1:]:
        shared = next((k for k in range(min(len(out), len(text), _MAX_OVERLAP_CHARS),
                                        _MIN_OVERLAP_CHARS - 1, -1)
                       if out.endswith(text[:k])), 0)
        out = f"{out} {text[shared:].lstrip()}" if shared else f"{out}\n\n{text}"
    return out


_WORD = re.compile(r"\w+", re.UNICODE)

# English function words: in most chunks, so they cost BM25 the most and tell it the least.
STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has
have having he her here hers him his how i if in into is it its itself just me more most my no
nor not now of off on once only or other our ours out over own same she should so some such
than that the their theirs them then there these they this those through to too under until
up very was we were what when where which while who whom why will with would you your yours
""".split())
# Matches BM25 may score per query. FTS5 scores every row that matches before it sorts (a
# docsize lookup and a position walk per row, ~2 us each here), and its bm25() walks each
# word's whole posting list once for the IDF. So the rarest words are kept while their chunk
# counts add up to the budget; a word common enough to break it weighs little in BM25 anyway,
# and a query made only of such words gets no BM25 list (the dense side carries it). The
# budget grows with the index (a fortieth of it), as the latency targets do (30 ms at 100k
# chunks, 150 ms at 1M), so big collections do not lose more words than small ones need to.
MIN_POSTINGS_BUDGET = 8_000
BUDGET_SHARE = 1 / 40


def fts_query(text: str) -> str:
    """An FTS5 query matching any word of `text`; quoting keeps user text from being syntax."""
    words = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    return " OR ".join(f'"{w}"' for w in words)


class _TermStats:
    """How many chunks hold each query word, capped at the budget: an FTS5 probe that stops
    one match past the budget, so asking costs little even for a word in every chunk
    (fts5vocab would walk the whole posting list: ~100 ms for such a word at 1M chunks)."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self._versions: list[tuple[int, int]] = []
        self._total = 0  # chunks in the index when the counts were taken
        self._counts: dict[str, int] = {}

    @property
    def budget(self) -> int:
        return max(MIN_POSTINGS_BUDGET, int(self._total * BUDGET_SHARE))

    def match(self, query: str) -> str:
        """The FTS5 MATCH expression for `query`, affordable words only, or '' for none."""
        distinct = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
        words = [w for w in distinct[:MAX_QUERY_WORDS * 4]
                 if self.store.fts_tokens(w)]  # the tokenizer may drop a \w+ run (e.g. '_')
        content = ([w for w in words if w not in STOP_WORDS] or words)[:MAX_QUERY_WORDS]
        self._refresh()
        cost = {w: self._count(w) for w in content}
        kept: list[str] = []
        spent = 0
        for word in sorted((w for w in content if cost[w] > 0), key=lambda w: cost[w]):
            if spent + cost[word] > self.budget:
                break
            kept.append(word)
            spent += cost[word]
        return " OR ".join(_quoted(w) for w in kept)

    def _count(self, word: str) -> int:
        if word not in self._counts:
            self._counts[word] = self.store.count_matches(_quoted(word), self.budget + 1)
        return self._counts[word]

    def _refresh(self) -> None:
        versions = self.store.collection_versions()
        if versions == self._versions:
            return
        self._versions = versions
        total = self.store.chunk_count(None)
        # Counts are a cost estimate, not a result: they stay until the index grows or shrinks
        # by a tenth.
        if abs(total - self._total) > self._total // 10:
            self._counts.clear()
            self._total = total


def _quoted(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'
