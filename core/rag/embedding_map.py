"""Embedding maps: what the embedding model makes of sentences and of a document collection.

- `sentence_map`: the cosine-similarity matrix of a few sentences and a 2D map of them.
- `collection_map`: a collection's chunks projected to 2D (PCA fitted on the chunks), with a
  query projected the same way and its nearest chunks (by cosine, over all chunks, as dense
  search ranks them).
- `chunk_detail`: the text behind one point of the map.

2D maps are principal component analysis in numpy: it is linear, deterministic and
cheap, and its axes say how much of the spread they keep (`explained`), which is the honest
caveat of any 2D picture of 384 dimensions. Read-only queries on the index use the store's
own connection (one thread owns it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from core.errors import PromptError
from core.pca import fit_pca, pca_2d
from core.rag.embedding_map_types import (
    DEFAULT_NEIGHBOURS,
    DEFAULT_SENTENCES,
    MAX_POINTS,
    MAX_SENTENCES,
    ChunkDetail,
    CollectionMap,
    SentenceMap,
)
from core.rag.errors import UnknownCollection

if TYPE_CHECKING:
    from core.rag.embed import Embedder
    from core.rag.index_store import IndexStore

__all__ = ["DEFAULT_SENTENCES", "ChunkDetail", "CollectionMap", "SentenceMap", "chunk_detail",
           "clean_sentences", "collection_map", "cosine_matrix", "pca_2d", "sentence_map"]
def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def clean_sentences(lines: Sequence[str]) -> list[str]:
    """Non-empty lines, stripped; raise PromptError when there are too few or too many."""
    sentences = [s.strip() for s in lines if s.strip()]
    if len(sentences) < 2:
        raise PromptError("Type at least two sentences, one per line, to compare them.")
    if len(sentences) > MAX_SENTENCES:
        raise PromptError(f"{len(sentences)} sentences is too many for one map; "
                          f"use up to {MAX_SENTENCES}.")
    return sentences


def sentence_map(lines: Sequence[str], embedder: Embedder) -> SentenceMap:
    """Embed the sentences (one per line) and compare every pair."""
    sentences = clean_sentences(lines)
    vectors = embedder.encode(sentences)
    coords, explained = pca_2d(vectors)
    return SentenceMap(sentences, cosine_matrix(vectors), coords, explained)


def _collection_id(store: IndexStore, name: str) -> int:
    for info in store.collections():
        if info.name == name:
            return info.id
    raise UnknownCollection(f"There is no collection named {name!r}; add documents to it in "
                            "the Documents tab first.")


def _chunk_documents(store: IndexStore, collection_id: int) -> dict[int, str]:
    """chunk id -> document path for every chunk of the collection, in one query."""
    rows = store.conn.execute(
        "SELECT c.id, d.path FROM rag_chunks c JOIN rag_documents d ON d.id = c.document_id "
        "WHERE d.collection_id = ?", (collection_id,))
    return {int(r[0]): str(r[1]) for r in rows}


def collection_map(store: IndexStore, collection: str, embedder: Embedder, query: str = "",
                   k: int = DEFAULT_NEIGHBOURS, max_points: int = MAX_POINTS) -> CollectionMap:
    """The collection's chunks on a 2D map, with the query and its `k` nearest chunks.

    Collections larger than `max_points` are drawn as an even sample (the query's neighbours
    are always drawn); PCA is fitted on the drawn chunks.
    """
    if not 1 <= k <= 50:
        raise PromptError(f"Ask for 1 to 50 nearest chunks, not {k}.")
    collection_id = _collection_id(store, collection)
    chunk_ids, vectors = store.vectors(collection_id)
    if len(chunk_ids) < 2:
        raise UnknownCollection(f"{collection!r} has {len(chunk_ids)} indexed chunk(s); a map "
                                "needs at least two. Index some documents first.")
    query = query.strip()
    nearest = np.zeros(0, dtype=np.int64)
    scores = np.zeros(0, dtype=np.float32)
    query_vector = None
    if query:
        query_vector = embedder.encode([query])[0]
        scores = vectors @ query_vector
        nearest = np.argsort(-scores, kind="stable")[: min(k, len(scores))]
    drawn = np.arange(len(chunk_ids))
    if len(drawn) > max_points:
        drawn = np.unique(np.concatenate([
            np.linspace(0, len(chunk_ids) - 1, max_points - len(nearest)).astype(np.int64),
            nearest]))
    projection = fit_pca(vectors[drawn])
    paths = _chunk_documents(store, collection_id)
    drawn_paths = [paths.get(int(c), "?") for c in chunk_ids[drawn]]
    documents = sorted(set(drawn_paths))
    index_of = {p: i for i, p in enumerate(documents)}
    position = {int(row): i for i, row in enumerate(drawn)}
    return CollectionMap(
        collection=collection, chunk_ids=chunk_ids[drawn], coords=projection.apply(vectors[drawn]),
        document=np.asarray([index_of[p] for p in drawn_paths]), documents=documents,
        explained=projection.explained, total_chunks=len(chunk_ids), query=query,
        query_coords=None if query_vector is None else projection.apply(query_vector[None])[0],
        neighbours=[position[int(i)] for i in nearest] if query else None,
        neighbour_similarity=[float(scores[i]) for i in nearest] if query else None)


def chunk_detail(store: IndexStore, chunk_id: int) -> ChunkDetail:
    """File, page, heading and text of one chunk."""
    row = store.chunk_rows([chunk_id]).get(chunk_id)
    if row is None:
        raise UnknownCollection(f"Chunk {chunk_id} is no longer in the index (the document "
                                "was removed or re-indexed); map the collection again.")
    collection, path, page, heading, text, _document_id = row
    return ChunkDetail(chunk_id, str(collection), str(path),
                       int(page) if page is not None else None,
                       str(heading) if heading else None, str(text))
