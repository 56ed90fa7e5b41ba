"""A synthetic document index at scale (100k, 1M chunks), built once and cached on disk.

Vectors: unit vectors with the structure of real sentence embeddings: a shared mean direction
(MiniLM's embeddings are anisotropic), topics, documents within topics and chunks within
documents, so near neighbours exist and are not trivially separated. Text: words drawn from a
Zipf distribution whose head is real English stop words and whose body mixes a general and a
per-topic vocabulary, so common query words match a large share of rows, as they do in real
text, and BM25's cost is honest.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.rag.embed import DIMENSION
from core.rag.index_store import IndexStore

CACHE = Path(os.environ.get("GLASSBOX_BENCH_CACHE", Path.home() / ".cache" / "glassbox-bench"))
CORPUS_VERSION = 1  # bump when the generator changes, so stale caches are not reused
CHUNKS_PER_DOCUMENT = 20
TOPICS = 2000
WORDS_PER_CHUNK = (60, 180)

STOP_WORDS = (
    "the of and to a in is that for it as with was on be by this are or from at an which "
    "not have but can has were their its one all also more been other these there when they "
    "will would what how about into than only some such most may each over so who we if do "
    "time new used between first two after many where no both through under while then what "
    "does our out any up very use make made like"
).split()


def _words(count: int, rng: np.random.Generator) -> np.ndarray:
    """Pronounceable made-up words, unique."""
    consonants = list("bcdfghklmnprstvz")
    vowels = list("aeiou")
    out: dict[str, None] = {}
    while len(out) < count:
        syllables = rng.integers(2, 5)
        word = "".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(syllables))
        out[word] = None
    return np.array(list(out), dtype=object)


@dataclass
class Vocabulary:
    stop: np.ndarray
    general: np.ndarray
    topical: np.ndarray  # (TOPICS, per-topic words)

    @classmethod
    def make(cls, rng: np.random.Generator) -> Vocabulary:
        general = _words(30_000 + TOPICS * 40, rng)
        return cls(np.array(STOP_WORDS, dtype=object), general[:30_000],
                   general[30_000:].reshape(TOPICS, 40))


_CDFS: dict[int, np.ndarray] = {}


def _zipf_ranks(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Ranks in [0, size) with probability proportional to 1 / (rank + 2)."""
    cdf = _CDFS.get(size)
    if cdf is None:
        cdf = np.cumsum(1.0 / (np.arange(size) + 2.0))
        cdf /= cdf[-1]
        _CDFS[size] = cdf
    return np.minimum(np.searchsorted(cdf, rng.random(count)), size - 1)


def chunk_text(vocab: Vocabulary, topic: int, rng: np.random.Generator) -> str:
    """~45% stop words, ~45% general vocabulary, ~10% the topic's own words."""
    length = int(rng.integers(*WORDS_PER_CHUNK))
    kind = rng.random(length)
    stop = vocab.stop[_zipf_ranks(length, len(vocab.stop), rng)]
    general = vocab.general[_zipf_ranks(length, len(vocab.general), rng)]
    topical = vocab.topical[topic][_zipf_ranks(length, vocab.topical.shape[1], rng)]
    words = np.where(kind < 0.45, stop, np.where(kind < 0.9, general, topical))
    return " ".join(words.tolist())


def vectors(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(unit vectors, topic of each): mean + topic + document + chunk components."""
    mean = rng.standard_normal(DIMENSION).astype(np.float32)
    mean *= 0.35 / np.linalg.norm(mean)
    topics = rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32)
    topics *= 0.5 / np.sqrt(DIMENSION)
    documents = -(-count // CHUNKS_PER_DOCUMENT)
    doc_topic = rng.integers(0, TOPICS, documents)
    out = np.empty((count, DIMENSION), dtype=np.float32)
    step = 50_000
    for start in range(0, count, step):
        stop = min(count, start + step)
        doc = np.arange(start, stop) // CHUNKS_PER_DOCUMENT
        block = rng.standard_normal((stop - start, DIMENSION)).astype(np.float32)
        block *= 0.5 / np.sqrt(DIMENSION)
        # One shared document component per document: a fixed function of its number.
        doc_rng = np.random.default_rng(doc[0])
        doc_parts = doc_rng.standard_normal((doc[-1] - doc[0] + 1, DIMENSION)).astype(np.float32)
        block += doc_parts[doc - doc[0]] * (0.4 / np.sqrt(DIMENSION))
        block += topics[doc_topic[doc]] + mean
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out, doc_topic[np.arange(count) // CHUNKS_PER_DOCUMENT]


def queries(matrix: np.ndarray, texts: list[str], count: int,
            rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Query vectors near random chunks (a paraphrase: the chunk plus as much noise again), and
    question-like texts with stop words and a few of the chunk's words."""
    picks = rng.choice(len(matrix), count, replace=False)
    noise = rng.standard_normal((count, DIMENSION)).astype(np.float32) * (0.5 / np.sqrt(DIMENSION))
    vecs = matrix[picks] + noise
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    words = []
    for pick in picks:
        own = texts[int(pick)].split()
        chosen = rng.choice(own, min(4, len(own)), replace=False)
        words.append("what is the " + " ".join(chosen) + " of the " + str(rng.choice(own)))
    return vecs, words


def build(path: Path, count: int, seed: int = 7) -> None:
    """Write a collection 'bench' of `count` synthetic chunks into a fresh database."""
    rng = np.random.default_rng(seed)
    vocab = Vocabulary.make(rng)
    matrix, topic_of = vectors(count, rng)
    tmp = path.with_suffix(".building")
    for leftover in tmp.parent.glob(tmp.name + "*"):
        leftover.unlink()
    with IndexStore(tmp) as store:
        conn = store.conn
        collection = store.create_collection("bench")
        documents = -(-count // CHUNKS_PER_DOCUMENT)
        conn.execute("PRAGMA synchronous = OFF")  # a throwaway cache: speed over durability
        with conn:
            conn.executemany(
                "INSERT INTO rag_documents(id, collection_id, path, status, chunk_count, "
                "content_hash, indexed_at) VALUES (?, ?, ?, 'indexed', ?, 'x', ?)",
                ((d + 1, collection, f"/bench/doc{d:07d}.md", CHUNKS_PER_DOCUMENT, time.time())
                 for d in range(documents)))
        step = 20_000
        for start in range(0, count, step):
            stop = min(count, start + step)
            texts = [chunk_text(vocab, int(topic_of[i]), rng) for i in range(start, stop)]
            with conn:
                conn.executemany(
                    "INSERT INTO rag_chunks(id, document_id, ordinal, page, heading, text) "
                    "VALUES (?, ?, ?, NULL, NULL, ?)",
                    ((i + 1, i // CHUNKS_PER_DOCUMENT + 1, i % CHUNKS_PER_DOCUMENT,
                      texts[i - start]) for i in range(start, stop)))
                conn.executemany(
                    "INSERT INTO rag_vectors(chunk_id, collection_id, embedding) VALUES (?, ?, ?)",
                    ((i + 1, collection, matrix[i].tobytes()) for i in range(start, stop)))
                conn.executemany("INSERT INTO rag_fts(rowid, text, heading) VALUES (?, ?, '')",
                                 ((i + 1, texts[i - start]) for i in range(start, stop)))
        conn.execute("UPDATE rag_collections SET version = 1")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tmp.rename(path)
    for side in ("-wal", "-shm"):
        Path(str(tmp) + side).unlink(missing_ok=True)


def cached(count: int) -> Path:
    """The cached database of `count` chunks, built first if it is missing."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"rag-search-{count}-v{CORPUS_VERSION}.sqlite"
    if not path.exists():
        build(path, count)
    return path
