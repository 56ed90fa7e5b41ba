"""Indexing throughput: `DocumentLibrary.index` over a folder of Markdown and text files, and
over real HTML pages and PDFs, against bare `SentenceTransformer.encode` of the very chunks it
stored, same model and batch size.

Glassbox's figure includes hashing, parsing in the child process, chunking, embedding and the
SQLite writes (chunks, vec0, FTS5), each document in its own transaction. Rounds alternate so
that load from other jobs falls on both sides alike.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import _rag_corpus
from core.rag.embed import DEFAULT_BATCH_SIZE, default_embedder, embedding_model_path
from core.rag.library import DocumentLibrary

DOCUMENTS = 60
ROUNDS = 3
PYDOCS = Path(__file__).resolve().parents[1] / "tests" / "data" / "pydocs"


def write_folder(folder: Path, seed: int = 3) -> int:
    """About 400 KB of Markdown and text in DOCUMENTS files of varied length; returns bytes."""
    rng = np.random.default_rng(seed)
    vocab = _rag_corpus.Vocabulary.make(rng)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for n in range(DOCUMENTS):
        topic = int(rng.integers(0, _rag_corpus.TOPICS))
        paragraphs = [_rag_corpus.chunk_text(vocab, topic, rng).capitalize() + "."
                      for _ in range(int(rng.integers(3, 14)))]
        if n % 3:
            body = f"# Document {n}\n\n" + "\n\n".join(
                (f"## Part {i}\n\n" if i % 4 == 0 else "") + p for i, p in enumerate(paragraphs))
            path = folder / f"doc{n:03d}.md"
        else:
            body = "\n\n".join(paragraphs)
            path = folder / f"doc{n:03d}.txt"
        path.write_text(body + "\n", encoding="utf-8")
        total += path.stat().st_size
    return total


def copy_pydocs(folder: Path) -> str:
    """The evaluation's real third-party pages (Python's docs as HTML, some printed to PDF)
    into `folder`; returns what they are, for the figure's name."""
    folder.mkdir(parents=True, exist_ok=True)
    count = {".html": 0, ".pdf": 0}
    total = 0
    for source in sorted(PYDOCS.iterdir()):
        if source.suffix in count:
            shutil.copyfile(source, folder / source.name)
            count[source.suffix] += 1
            total += source.stat().st_size
    return (f"{count['.html']} HTML pages and {count['.pdf']} PDFs of Python's docs, "
            f"{total // 1000} KB")


def _glassbox(folder: Path, work: Path, tag: str) -> tuple[float, list[str]]:
    """Chunks per second of a full index run into a fresh database, and the chunk texts."""
    expected = sum(1 for _ in folder.iterdir())
    with DocumentLibrary(work / f"index-{tag}.sqlite", embedder=default_embedder()) as lib:
        lib.add_paths("bench", [folder])
        started = time.perf_counter()
        summary = lib.index("bench")
        elapsed = time.perf_counter() - started
        assert summary.failed == 0 and summary.indexed == expected, summary
        texts = [r[0] for r in lib.store.conn.execute("SELECT text FROM rag_chunks ORDER BY id")]
    return summary.chunks / elapsed, texts


def _bare(model: Any, texts: list[str]) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=DEFAULT_BATCH_SIZE)
    return len(texts) / (time.perf_counter() - started)


def _row(label: str, folder: Path, work: Path, bare_model: Any) -> dict[str, Any]:
    ours: list[float] = []
    bare: list[float] = []
    texts: list[str] = []
    for round_ in range(ROUNDS):
        rate, texts = _glassbox(folder, work, f"{folder.name}{round_}")
        ours.append(rate)
        bare.append(_bare(bare_model, texts))
    mine, theirs = statistics.median(ours), statistics.median(bare)
    return {
        "name": f"indexing chunks/s ({label}, {len(texts)} chunks, median of {ROUNDS})",
        "unit": "chunks/s",
        "glassbox": round(mine, 1),
        "baseline": round(theirs, 1),
        "ratio": round(mine / theirs, 3),
        "target_ratio": 0.85,
        "baseline_is": f"bare SentenceTransformer.encode of the same chunk texts, batch size "
                       f"{DEFAULT_BATCH_SIZE}, same process",
        "glassbox_rounds": [round(r, 1) for r in ours],
        "baseline_rounds": [round(r, 1) for r in bare],
    }


def run() -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    default_embedder().load()
    bare_model = SentenceTransformer(str(embedding_model_path()), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        size = write_folder(work / "docs")
        real = copy_pydocs(work / "pydocs")
        warm = work / "warm"  # warm-up on one file: parser start, model caches
        warm.mkdir()
        (warm / "w.md").write_text((work / "docs" / "doc001.md").read_text(encoding="utf-8"))
        with DocumentLibrary(work / "warm.sqlite", embedder=default_embedder()) as lib:
            lib.add_paths("warm", [warm])
            lib.index("warm")
        figures = [
            _row(f"{DOCUMENTS} Markdown and text files, {size // 1000} KB", work / "docs",
                 work, bare_model),
            _row(real, work / "pydocs", work, bare_model),
        ]
    return {"name": "rag_indexing", "figures": figures}


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
