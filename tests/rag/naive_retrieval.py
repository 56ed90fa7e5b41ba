"""The naive retrieval pipeline Glassbox must beat (issue 17): what a few lines of glue give.

Each document's text (parsed by the same parsers, so both sides read the same words) is cut
into fixed 200-word chunks with no overlap and no regard for headings or sentences; the chunks
are embedded with the same all-MiniLM-L6-v2 and searched by exact cosine similarity, and by
`rank_bm25.BM25Okapi` over lower-cased words; the two lists (50 deep) are merged by plain
reciprocal rank fusion (k = 60). A PDF chunk cites the page its first word is on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.rag.embed import Embedder
from core.rag.parse import parse_file

WORDS_PER_CHUNK = 200
DEPTH = 50
RRF_K = 60
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class NaiveHit:
    path: str
    page: int | None
    text: str
    score: float


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class NaiveIndex:
    """Fixed-size chunks, the same embeddings, rank_bm25 and plain RRF, all in memory."""

    def __init__(self, embedder: Embedder, files: Sequence[Path],
                 words_per_chunk: int = WORDS_PER_CHUNK) -> None:
        from rank_bm25 import BM25Okapi

        self.embedder = embedder
        self.chunks: list[NaiveHit] = []
        for path in files:
            words: list[tuple[str, int | None]] = []
            for section in parse_file(path):
                words.extend((w, section.page) for w in section.text.split())
            for start in range(0, len(words), words_per_chunk):
                part = words[start:start + words_per_chunk]
                self.chunks.append(NaiveHit(str(path), part[0][1],
                                            " ".join(w for w, _ in part), 0.0))
        texts = [c.text for c in self.chunks]
        self.vectors = embedder.encode(texts)
        self.bm25 = BM25Okapi([_tokens(t) for t in texts])

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, query: str, top_k: int = 3, mode: str = "hybrid") -> list[NaiveHit]:
        """The best `top_k` chunks: 'hybrid' (RRF of both lists), 'dense' or 'bm25'."""
        lists: list[list[int]] = []
        if mode in ("hybrid", "dense"):
            scores = self.vectors @ self.embedder.encode([query])[0]
            lists.append(np.argsort(-scores, kind="stable")[:DEPTH].tolist())
        if mode in ("hybrid", "bm25"):
            scores = self.bm25.get_scores(_tokens(query))
            order = np.argsort(-scores, kind="stable")[:DEPTH]
            lists.append([int(i) for i in order if scores[i] > 0])
        fused: dict[int, float] = {}
        for ranked in lists:
            for rank, index in enumerate(ranked, start=1):
                fused[index] = fused.get(index, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda i: (-fused[i], i))[:top_k]
        return [NaiveHit(self.chunks[i].path, self.chunks[i].page, self.chunks[i].text,
                         fused[i]) for i in best]
