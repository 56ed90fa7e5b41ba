"""Split sections into chunks measured in the embedding model's own tokens.

A chunk ends at a line or sentence end wherever one is near, never inside a word. Sections
too small to stand alone (a "Synopsis" line, a page's navigation bar) are packed with the
ones after them, so a chunk is rarely a fragment; a long section is split with a little
overlap. A chunk never crosses a page, so each keeps the page it came from (and the heading
of most of its text). Each chunk also carries its context (the document's title and its
heading), which is embedded and indexed with it, so that a passage deep in a page still knows
what the page is about.

CHUNKER_VERSION names these rules: an index made with other rules is re-made by the next
indexing run (see DocumentLibrary.index_events).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.rag.parse import Section

# all-MiniLM-L6-v2 reads 256 word pieces, two of them [CLS] and [SEP]: a chunk and its context
# together stay within that, or the end would be cut silently when embedded.
DEFAULT_MAX_TOKENS = 254
DEFAULT_OVERLAP = 40
# A section under this many tokens is packed with the next one rather than left alone.
DEFAULT_MIN_TOKENS = 64
CONTEXT_TOKENS = 14  # at most this much of the budget goes to the context; the text has 240
CHUNKER_VERSION = 2  # bump when the rules change: indexes made by older rules are re-made
_WORD_SNAP = 24  # how far (in tokens) a boundary may move back to land on a word start
_CLAUSE_SNAP = 48  # how far a boundary may move back to land on a line or sentence end
# Cut after a line break, or after a sentence's closing punctuation (and quotes) and a space.
_BOUNDARY = re.compile(r"\n|(?<=[.!?;:])[\"')\]]* ")


@dataclass(frozen=True)
class Chunk:
    text: str
    page: int | None
    heading: str | None
    ordinal: int  # position in its document, from 0
    tokens: int
    context: str = ""  # the document's title and the chunk's heading, embedded and indexed

    @property
    def embedding_text(self) -> str:
        """What is embedded: the context, then the text."""
        return f"{self.context}\n{self.text}" if self.context else self.text


class Chunker:
    """Token-aware chunking with the tokenizer of the embedding model (no torch needed)."""

    def __init__(self, tokenizer_file: Path | None = None,
                 max_tokens: int = DEFAULT_MAX_TOKENS, overlap: int = DEFAULT_OVERLAP,
                 min_tokens: int = DEFAULT_MIN_TOKENS) -> None:
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
        self.min_tokens = min_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def chunk(self, sections: Sequence[Section], title: str | None = None) -> list[Chunk]:
        """Chunks of every section, in order. `title`: the document's, for each chunk's
        context (the file name serves when the document has none)."""
        title = " ".join((title or "").split())[:200]
        chunks: list[Chunk] = []
        page_sections: list[Section] = []
        for section in sections:
            if page_sections and section.page != page_sections[-1].page:
                self._chunk_page(page_sections, title, chunks)
                page_sections = []
            page_sections.append(section)
        if page_sections:
            self._chunk_page(page_sections, title, chunks)
        return chunks

    def context(self, title: str, heading: str | None) -> str:
        """'title: heading', cut to CONTEXT_TOKENS; the heading alone repeats nothing."""
        heading = " ".join((heading or "").split())
        if heading and title and heading.casefold() not in title.casefold():
            text = f"{title}: {heading}"
        else:
            text = title or heading
        if not text or self.count_tokens(text) <= CONTEXT_TOKENS:
            return text
        ids = self._tokenizer.encode(text, add_special_tokens=False)
        return text[:ids.offsets[CONTEXT_TOKENS - 1][1]].rstrip()

    # -- within one page --------------------------------------------------------------------
    def _chunk_page(self, sections: Sequence[Section], title: str, out: list[Chunk]) -> None:
        """Windows of at most `max_tokens - CONTEXT_TOKENS` tokens over the page's sections,
        joined: a window ends at a section start once it holds `min_tokens` (small sections
        are packed with the next), else at a line or sentence end near its limit (else at a
        word start); the next window overlaps it by about `overlap` tokens, except after a
        section start."""
        texts = [(s.text.strip(), s.heading) for s in sections if s.text.strip()]
        if not texts:
            return
        full = "\n\n".join(text for text, _ in texts)
        section_chars = list(itertools.accumulate(len(text) + 2 for text, _ in texts[:-1]))
        offsets: list[tuple[int, int]] = self._tokenizer.encode(
            full, add_special_tokens=False).offsets
        count = len(offsets)
        if count == 0:
            return
        token_starts = [a for a, _ in offsets]
        section_tokens = [0] + [bisect.bisect_left(token_starts, c) for c in section_chars]
        clause = {bisect.bisect_left(token_starts, m.end()) for m in _BOUNDARY.finditer(full)}
        budget = self.max_tokens - CONTEXT_TOKENS

        def word_start(i: int) -> bool:
            start = offsets[i][0]
            return start == 0 or full[start - 1].isspace()

        def back_to(i: int, floor: int, reach: int, good: Callable[[int], bool]) -> int | None:
            return next((j for j in range(i, max(floor, i - reach), -1) if good(j)), None)

        start = 0
        while start < count:
            limit = min(start + budget, count)
            end, at_section = limit, False
            section = next((b for b in section_tokens
                            if start + self.min_tokens <= b < limit and b > start), None)
            if section is not None:
                end, at_section = section, True
            elif limit < count:  # a line or sentence end near the limit, else a word start
                end = (back_to(limit, start + self.min_tokens, _CLAUSE_SNAP, clause.__contains__)
                       or back_to(limit, start + 1, _WORD_SNAP, word_start) or limit)
            self._emit(full, offsets, start, end, section_tokens, texts, page=sections[0].page,
                       title=title, out=out)
            if end >= count:
                break
            if at_section:
                start = end
            else:  # overlap: from a line or sentence start if one is near, else a word start
                back = max(end - self.overlap, start + 1)
                start = (next((j for j in range(back, end) if j in clause), None)
                         or back_to(back, start + 1, _WORD_SNAP, word_start) or back)

    def _emit(self, full: str, offsets: list[tuple[int, int]], start: int, end: int,
              section_tokens: list[int], texts: list[tuple[str, str | None]], page: int | None,
              title: str, out: list[Chunk]) -> None:
        stop = offsets[end][0] if end < len(offsets) else len(full)
        text = full[offsets[start][0]:stop].strip()
        if not text:
            return
        weight: dict[str | None, int] = {}
        for n, first in enumerate(section_tokens):  # the heading of most of the text
            last = section_tokens[n + 1] if n + 1 < len(section_tokens) else len(offsets)
            share = min(last, end) - max(first, start)
            if share > 0:
                weight[texts[n][1]] = weight.get(texts[n][1], 0) + share
        heading = max(weight, key=lambda h: weight[h]) if weight else None
        out.append(Chunk(text, page, heading, len(out), end - start,
                         self.context(title, heading)))


def document_title(path: str) -> str:
    """The title a document's chunks carry in their context: its file name, less the suffix
    (people name files for what they hold; parsed titles are often missing or generic)."""
    return " ".join(Path(path).stem.replace("_", " ").split())
