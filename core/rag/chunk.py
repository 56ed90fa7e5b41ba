"""Split sections into chunks measured in the embedding model's own tokens, with overlap.

A chunk never crosses a section, so each keeps the page and heading it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.rag.parse import Section

# all-MiniLM-L6-v2 reads 256 word pieces, two of them [CLS] and [SEP]: longer chunks would be
# cut silently when embedded, so the default stays under that.
DEFAULT_MAX_TOKENS = 240
DEFAULT_OVERLAP = 40
_WORD_SNAP = 24  # how far (in tokens) a boundary may move back to land on a word start


@dataclass(frozen=True)
class Chunk:
    text: str
    page: int | None
    heading: str | None
    ordinal: int  # position in its document, from 0
    tokens: int


class Chunker:
    """Token-aware chunking with the tokenizer of the embedding model (no torch needed)."""

    def __init__(self, tokenizer_file: Path | None = None,
                 max_tokens: int = DEFAULT_MAX_TOKENS, overlap: int = DEFAULT_OVERLAP) -> None:
        if not 0 <= overlap < max_tokens // 2:
            raise ValueError("overlap must be at least 0 and under half of max_tokens")
        if tokenizer_file is None:
            from core.rag.embed import embedding_model_path

            tokenizer_file = embedding_model_path() / "tokenizer.json"
        from tokenizers import Tokenizer

        self._tokenizer: Any = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.overlap = overlap

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def chunk(self, sections: Sequence[Section]) -> list[Chunk]:
        """Chunks of every section, in order."""
        chunks: list[Chunk] = []
        for section in sections:
            for text, tokens in self._split(section.text):
                chunks.append(Chunk(text, section.page, section.heading, len(chunks), tokens))
        return chunks

    def _split(self, text: str) -> list[tuple[str, int]]:
        offsets: list[tuple[int, int]] = self._tokenizer.encode(
            text, add_special_tokens=False).offsets
        count = len(offsets)
        if count == 0:
            return []
        if count <= self.max_tokens:
            return [(text.strip(), count)]

        def word_start(i: int) -> bool:
            start = offsets[i][0]
            return start == 0 or text[start - 1].isspace()

        pieces: list[tuple[str, int]] = []
        start = 0
        while start < count:
            end = min(start + self.max_tokens, count)
            if end < count:  # move the cut back to a word start, so no word is split
                snapped = next((e for e in range(end, max(start + 1, end - _WORD_SNAP), -1)
                                if word_start(e)), end)
                end = snapped
            piece = text[offsets[start][0]:offsets[end - 1][1]].strip()
            if piece:
                pieces.append((piece, end - start))
            if end >= count:
                break
            overlap_start = max(end - self.overlap, start + 1)
            start = next((s for s in range(overlap_start, max(start, overlap_start - _WORD_SNAP),
                                           -1) if word_start(s)), overlap_start)
        return pieces
