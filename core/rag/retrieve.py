"""Hybrid retrieval: dense vectors and BM25 (FTS5), merged by reciprocal rank fusion.

The dense side keeps a normalized float32 matrix per collection in memory (numpy brute force
is about ten times faster than sqlite-vec's exact KNN here); the cache is keyed on the
collection's version, which every write bumps, so other connections' writes are seen.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.rag.embed import Embedder
from core.rag.index_store import IndexStore

RRF_K = 60  # the constant from Cormack et al. (2009); ranks matter, raw scores do not
MODES = ("hybrid", "dense", "bm25")


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


class Retriever:
    """Searches the collections of one IndexStore; owned by the same thread as the store."""

    def __init__(self, store: IndexStore, embedder: Embedder, candidates: int = 50) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        self._matrices: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}

    def search(self, query: str, collection_ids: Sequence[int], top_k: int = 5,
               mode: str = "hybrid") -> list[Hit]:
        """The best `top_k` passages for `query` in the given collections, best first."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if not query.strip() or not collection_ids or top_k < 1:
            return []
        depth = max(self.candidates, top_k)
        dense = self._dense(query, collection_ids, depth) if mode != "bm25" else []
        lexical = self._bm25(query, collection_ids, depth) if mode != "dense" else []
        return self._fuse(dense, lexical, top_k, mode)

    def _dense(self, query: str, collection_ids: Sequence[int],
               depth: int) -> list[tuple[int, float]]:
        vector = self.embedder.encode([query])[0]
        ids_parts, score_parts = [], []
        for collection_id in collection_ids:
            ids, matrix = self._matrix(collection_id)
            if len(ids):
                ids_parts.append(ids)
                score_parts.append(matrix @ vector)
        if not ids_parts:
            return []
        ids = np.concatenate(ids_parts)
        scores = np.concatenate(score_parts)
        if len(scores) > depth:
            best = np.argpartition(-scores, depth)[:depth]
        else:
            best = np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(ids[i]), float(scores[i])) for i in best]

    def _matrix(self, collection_id: int) -> tuple[np.ndarray, np.ndarray]:
        version = self.store.collection_version(collection_id)
        cached = self._matrices.get(collection_id)
        if cached is None or cached[0] != version:
            ids, matrix = self.store.vectors(collection_id)
            cached = (version, ids, matrix)
            self._matrices[collection_id] = cached
        return cached[1], cached[2]

    def _bm25(self, query: str, collection_ids: Sequence[int],
              depth: int) -> list[tuple[int, float]]:
        match = fts_query(query)
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
        order = sorted(fused, key=lambda cid: (-fused[cid], cid))[:top_k]
        rows = self.store.chunk_rows(order) if order else {}
        hits: list[Hit] = []
        for cid in order:
            if cid not in rows:  # deleted between the two reads
                continue
            collection, path, page, heading, text, document_id = rows[cid]
            v, b = vector.get(cid), bm25.get(cid)
            hits.append(Hit(
                chunk_id=cid, document_id=document_id, collection=collection, path=path,
                page=page, heading=heading, text=text,
                vector_score=v[1] if v else None, bm25_score=b[1] if b else None,
                vector_rank=v[0] if v else None, bm25_rank=b[0] if b else None,
                score=fused[cid], rank=len(hits) + 1,
            ))
        return hits


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """An FTS5 query matching any word of `text`; quoting keeps user text from being syntax."""
    words = dict.fromkeys(w.lower() for w in _WORD.findall(text))
    return " OR ".join(f'"{w}"' for w in words)
