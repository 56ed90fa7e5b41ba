"""Token-aware chunking with the embedding model's own tokenizer."""

from __future__ import annotations

from core.rag.chunk import Chunker
from core.rag.parse import Section


def test_long_sections_split_with_overlap_and_keep_page_and_heading(chunker: Chunker) -> None:
    words = [f"word{i}" for i in range(900)]
    sections = [Section("short intro", 1, "Intro"), Section(" ".join(words), 2, "Body")]
    chunks = chunker.chunk(sections)
    assert chunks[0].text == "short intro" and (chunks[0].page, chunks[0].heading) == (1, "Intro")
    body = chunks[1:]
    assert len(body) >= 3
    assert all((c.page, c.heading) == (2, "Body") for c in body)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in body:
        assert chunker.count_tokens(chunk.text) <= chunker.max_tokens
        assert chunk.text.split()[0] in words and chunk.text.split()[-1] in words  # whole words
    for before, after in zip(body, body[1:], strict=False):
        assert before.text.split()[-1] in after.text.split()  # consecutive chunks overlap
    covered = set(" ".join(c.text for c in body).split())
    assert covered == set(words)


def test_text_without_spaces_still_makes_progress(chunker: Chunker) -> None:
    text = "\u6f22\u5b57" * 600  # CJK: no spaces, so no word boundaries to snap to
    chunks = chunker.chunk([Section(text)])
    assert 4 <= len(chunks) <= 8
    assert "".join(c.text for c in chunks).count("\u6f22") >= 600


def test_empty_sections_make_no_chunks(chunker: Chunker) -> None:
    assert chunker.chunk([Section("   "), Section("")]) == []
