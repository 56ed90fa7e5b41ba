"""Search results are passages (issue 17): neighbouring chunks of one page that both rank are one
passage, written once, so the top results are not fragments of a single spot; chunks carry
their document's title and heading."""

from __future__ import annotations

from pathlib import Path

from core.rag.chunk import Chunker, document_title
from core.rag.embed import Embedder
from core.rag.library import DocumentLibrary
from core.rag.parse import Section
from core.rag.retrieve import PASSAGE_CHUNKS, _join

SENTENCES = [f"Lighthouse keeper number {n} trimmed the wick of the great lamp on island {n}."
             for n in range(120)]


def test_small_sections_are_packed_and_chunks_carry_their_context(chunker: Chunker) -> None:
    sections = [Section("Navigation: Prev Up Next", None, "DISCARD"),
                Section("Synopsis\nDISCARD { ALL | PLANS }", None, "Synopsis"),
                Section("Description\n" + " ".join(SENTENCES[:40]), None, "Description")]
    chunks = chunker.chunk(sections, document_title("/docs/sql-discard.html"))
    assert chunks[0].text.startswith("Navigation") and "Synopsis" in chunks[0].text
    assert all(c.context.startswith("sql-discard") for c in chunks)
    assert chunks[0].heading == "Description" and chunks[0].context == "sql-discard: Description"
    assert chunks[0].embedding_text == f"{chunks[0].context}\n{chunks[0].text}"
    for chunk in chunks:
        assert chunk.tokens <= chunker.max_tokens
        assert chunker.count_tokens(chunk.embedding_text) <= chunker.max_tokens
    # Long sections end at sentence ends where one is near, and overlap the next chunk.
    body = [c for c in chunks if "Lighthouse" in c.text]
    assert len(body) >= 3
    for before, after in zip(body, body[1:], strict=False):
        assert before.text.endswith(".")
        assert before.text.split()[-1] in after.text


def test_pages_are_never_crossed(chunker: Chunker) -> None:
    sections = [Section("tiny", 1), Section("also tiny", 2), Section(" ".join(SENTENCES), 3)]
    chunks = chunker.chunk(sections, "atlas")
    assert [c.page for c in chunks[:2]] == [1, 2]
    assert {c.page for c in chunks[2:]} == {3}


def test_join_writes_the_overlap_once() -> None:
    text = " ".join(SENTENCES[:10])
    end, start = text.rindex(" ", 0, 400), text.rindex(" ", 0, 330) + 1  # at word starts
    stop = text.rindex(" ", 0, 800)
    first, second = text[:end], text[start:stop]  # as the chunker cuts them: overlapping
    assert _join([first, second]) == text[:stop]
    assert _join(["alpha beta", "gamma delta"]) == "alpha beta\n\ngamma delta"


def test_neighbouring_hits_become_one_passage(embedder: Embedder, chunker: Chunker,
                                              tmp_path: Path) -> None:
    (tmp_path / "lighthouses.txt").write_text(" ".join(SENTENCES), encoding="utf-8")
    (tmp_path / "bakery.txt").write_text(
        "The bakery sells rye bread and lighthouse-shaped biscuits every morning.",
        encoding="utf-8")
    with DocumentLibrary(tmp_path / "g.sqlite3", embedder=embedder, chunker=chunker,
                         parse_time_limit_s=30) as lib:
        lib.add_paths("c", [tmp_path])
        lib.index("c")
        hits = lib.search("lighthouse keeper trimmed the wick of the lamp", "c", top_k=3)
        assert len(hits) == 3
        for hit in hits:
            assert 1 <= len(hit.chunk_ids) <= PASSAGE_CHUNKS
            assert hit.chunk_id in hit.chunk_ids
            words = hit.text.split()
            # Written once: no sentence of the passage appears twice in it.
            for n in range(120):
                assert hit.text.count(f"number {n} trimmed") <= 1, (n, hit.text)
            assert len(words) > 20
        # No two passages share a chunk.
        chunk_ids = [c for hit in hits for c in hit.chunk_ids]
        assert len(chunk_ids) == len(set(chunk_ids))


def test_passages_of_the_best_document_come_before_a_stray_one(
        embedder: Embedder, chunker: Chunker, tmp_path: Path) -> None:
    """Hybrid ranks documents too: the second-best passage of the document holding the best
    one comes before another document's passage that fused a little higher on its own."""
    (tmp_path / "lighthouses.txt").write_text(" ".join(SENTENCES), encoding="utf-8")
    (tmp_path / "bakery.txt").write_text(" ".join(
        f"Baker number {n} took the rye loaves out of oven {n} at dawn." for n in range(120)),
        encoding="utf-8")
    with DocumentLibrary(tmp_path / "d.sqlite3", embedder=embedder, chunker=chunker,
                         parse_time_limit_s=30) as lib:
        lib.add_paths("c", [tmp_path])
        lib.index("c")
        rows = list(lib.store.conn.execute(
            "SELECT c.id, d.path, c.ordinal FROM rag_chunks c JOIN rag_documents d "
            "ON d.id = c.document_id ORDER BY c.id"))
        light = [r[0] for r in rows if r[1].endswith("lighthouses.txt")]
        bread = [r[0] for r in rows if r[1].endswith("bakery.txt")]
        assert len(light) >= 4 and bread
        best, second, stray = light[0], light[3], bread[0]  # light[3] is no neighbour of [0]
        ranked = [(best, 0.9), (stray, 0.8), (second, 0.7)]
        hybrid = lib._retriever._fuse(ranked, [], top_k=3, mode="hybrid")
        assert [h.chunk_id for h in hybrid] == [best, second, stray]
        # The single lists keep their own order: the rule belongs to the fusion.
        dense = lib._retriever._fuse(ranked, [], top_k=3, mode="dense")
        assert [h.chunk_id for h in dense] == [best, stray, second]


def test_copies_of_a_passage_are_shown_once(embedder: Embedder, chunker: Chunker,
                                            tmp_path: Path) -> None:
    """The same file in two folders (or a page and its printed copy) is one result, and the
    list still fills up with other passages."""
    text = " ".join(SENTENCES)
    for folder in ("inbox", "archive"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "lighthouses.txt").write_text(text, encoding="utf-8")
    with DocumentLibrary(tmp_path / "e.sqlite3", embedder=embedder, chunker=chunker,
                         parse_time_limit_s=30) as lib:
        lib.add_paths("c", [tmp_path / "inbox", tmp_path / "archive"])
        lib.index("c")
        hits = lib.search("keeper number 7 trimmed the wick", "c", top_k=4)
        assert len(hits) == 4
        texts = [" ".join(h.text.split()) for h in hits]
        for n, first in enumerate(texts):
            for second in texts[n + 1:]:
                assert first not in second and second not in first
        # Each sentence shows up at most once across the results.
        joined = " ".join(texts)
        assert joined.count("number 7 trimmed") == 1
