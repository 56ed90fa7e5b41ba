"""Search at scale: the approximate dense path keeps its recall, the fast vector read agrees
with sqlite-vec, and caches follow writes. No timings here: those are in bench/rag_search.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.rag.embed import DIMENSION, Embedder
from core.rag.index_store import IndexStore
from core.rag.library import DocumentLibrary
from core.rag.retrieve import STOP_WORDS, Retriever
from core.rag.vector_index import VectorIndex, VectorIndexBuilder


def _clustered(count: int, seed: int) -> np.ndarray:
    """Unit vectors shaped like sentence embeddings: a shared mean direction, topics, and
    documents of 20 chunks within topics (see bench/_rag_corpus.py)."""
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(DIMENSION)
    mean *= 0.35 / np.linalg.norm(mean)
    topics = rng.standard_normal((200, DIMENSION)) * (0.5 / np.sqrt(DIMENSION))
    docs = rng.standard_normal((count // 20 + 1, DIMENSION)) * (0.4 / np.sqrt(DIMENSION))
    doc_topic = rng.integers(0, len(topics), len(docs))
    doc = np.arange(count) // 20
    rows = (mean + topics[doc_topic[doc]] + docs[doc]
            + rng.standard_normal((count, DIMENSION)) * (0.5 / np.sqrt(DIMENSION)))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32)


def _recall_at_10(index: VectorIndex, matrix: np.ndarray, ids: np.ndarray,
                  queries: np.ndarray) -> float:
    found = 0
    for query in queries:
        exact = set(ids[np.argsort(-(matrix @ query))[:10]].tolist())
        got, _ = index.search(query, 10)
        found += len(exact & set(got.tolist()))
    return found / (10 * len(queries))


def test_binary_candidates_with_rescoring_keep_recall_at_10() -> None:
    matrix = _clustered(20_000, seed=1)
    ids = np.arange(100, 100 + len(matrix), dtype=np.int64)
    builder = VectorIndexBuilder(DIMENSION, expected=len(ids), exact_below=10_000)
    for start in range(0, len(ids), 3_000):  # blocks, as the store hands them over
        builder.add(ids[start:start + 3_000], matrix[start:start + 3_000])
    index = builder.build()
    assert index.approximate and index.rescore_count() < len(ids) // 5
    rng = np.random.default_rng(2)
    # Paraphrase-like queries near stored chunks, and queries from nowhere in particular.
    near = matrix[rng.choice(len(matrix), 60, replace=False)]
    near = near + rng.standard_normal(near.shape).astype(np.float32) * (0.5 / np.sqrt(DIMENSION))
    far = rng.standard_normal((40, DIMENSION)).astype(np.float32)
    queries = np.concatenate([near, far])
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    assert _recall_at_10(index, matrix, ids, queries) >= 0.95
    got, scores = index.search(queries[0], 5)
    assert np.all(np.diff(scores) <= 0) and len(set(got.tolist())) == 5
    exact = VectorIndex(ids, matrix, exact_below=len(ids) + 1)
    assert not exact.approximate and _recall_at_10(exact, matrix, ids, queries) == 1.0


def test_small_and_empty_indexes() -> None:
    empty = VectorIndexBuilder(DIMENSION).build()
    assert len(empty) == 0 and len(empty.search(np.ones(DIMENSION, np.float32), 5)[0]) == 0
    matrix = _clustered(30, seed=3)
    ids = np.arange(30, dtype=np.int64)
    index = VectorIndex(ids, matrix, exact_below=10)  # approximate, fewer rows than rescored
    got, _ = index.search(matrix[7], 3)
    assert got[0] == 7 and len(got) == 3


def _store_vectors(store: IndexStore, collection_id: int, fast: bool) -> dict[int, bytes]:
    blocks: list[tuple[np.ndarray, np.ndarray]] = []
    if fast:
        assert store._read_vector_chunks(collection_id, store.chunk_count(collection_id),
                                         lambda i, r: blocks.append((i.copy(), r.copy())))
    else:
        blocks = list(store._scan_vectors(collection_id))
    return {int(i): row.tobytes() for ids, rows in blocks for i, row in zip(ids, rows,
                                                                           strict=True)}


def test_fast_vector_read_matches_sqlite_vec(library: DocumentLibrary, corpus: Path,
                                             tmp_path: Path) -> None:
    """The read of vec0's storage returns exactly what a scan through vec0 does, also after
    deletions leave holes in its blocks and with two collections in one table."""
    other = tmp_path / "other"
    other.mkdir()
    for n in range(3):
        (other / f"o{n}.md").write_text(f"# Other {n}\nAnother collection, page {n}.\n")
    library.add_paths("docs", [corpus])
    library.add_paths("other", [other])
    library.index("docs")
    library.index("other")
    library.remove_path("docs", corpus / "notes.txt")
    store = library.store
    for name in ("docs", "other"):
        collection_id = library.collection(name).id
        fast = _store_vectors(store, collection_id, fast=True)
        assert fast == _store_vectors(store, collection_id, fast=False)
        assert len(fast) == store.chunk_count(collection_id) > 0


def test_search_follows_adds_and_removes_on_the_approximate_path(
        embedder: Embedder, library: DocumentLibrary, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    topics = ["volcanoes erupt molten rock", "bees make honey from nectar",
              "trains run on steel rails", "glaciers carve deep valleys",
              "violins have four strings", "comets have icy tails"]
    for n, topic in enumerate(topics):
        (folder / f"t{n}.md").write_text(f"# Topic {n}\n{topic}.\n")
    library.add_paths("many", [folder])
    library.index("many")
    # A second retriever on the same store, forced onto the binary path even when tiny.
    retriever = Retriever(library.store, embedder, exact_below=2)
    collection_id = library.collection("many").id

    def top(query: str) -> str:
        return Path(retriever.search(query, [collection_id], top_k=1, mode="dense")[0].path).name

    assert retriever.index(collection_id).approximate
    assert top("honey and bees") == "t1.md"
    (folder / "t6.md").write_text("# Topic 6\nPenguins huddle together in the antarctic cold.\n")
    library.index("many")
    assert top("penguins in antarctica") == "t6.md"  # added after the index was cached
    library.remove_path("many", folder / "t1.md")
    assert top("honey and bees") != "t1.md"  # removed: gone from the cached index too
    hits = retriever.search("honey bees", [collection_id], top_k=10)
    assert all(Path(h.path).name != "t1.md" for h in hits)


def test_bm25_leaves_out_stop_words_and_filters_collections(library: DocumentLibrary,
                                                            tmp_path: Path) -> None:
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for n in range(30):  # many matching chunks in 'b', so 'a' needs a deeper FTS round
            word = "zebra" if name == "a" and n == 0 else "horse"
            (folder / f"{name}{n}.md").write_text(
                f"# {name} {n}\nThe {word} is in the field with the cart.\n")
        library.add_paths(name, [folder])
        library.index(name)
    assert "the" in STOP_WORDS
    hits = library.search("what is the zebra", "a", top_k=3, mode="bm25")
    assert hits and Path(hits[0].path).name == "a0.md"
    only_a = library.search("the field cart", "a", top_k=50, mode="bm25")
    assert len(only_a) == 30 and all(h.collection == "a" for h in only_a)
    assert library.search("the of and", "a", mode="bm25")  # only stop words: they are kept
    assert library.search("!!!", "a", mode="bm25") == []


@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_a_caller_may_pass_the_query_vector(library: DocumentLibrary, corpus: Path,
                                            mode: str) -> None:
    library.add_paths("docs", [corpus])
    library.index("docs")
    query = "capital of Freedonia"
    vector = library.embedder.encode([query])[0]
    retriever = Retriever(library.store, library.embedder)
    ids = [library.collection("docs").id]
    given = retriever.search(query, ids, top_k=3, mode=mode, vector=vector)
    assert [h.chunk_id for h in given] == [
        h.chunk_id for h in retriever.search(query, ids, top_k=3, mode=mode)]
