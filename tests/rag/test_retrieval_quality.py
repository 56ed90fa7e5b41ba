"""Retrieval quality on real documents (issue 3): pages of the Python 3.11 documentation from
Debian's python3.11-doc, some printed to PDF, and questions written for them.

The corpus is indexed once for the module; every mode answers the same questions. Floors sit a
little under the measured figures (bench/README.md, "Retrieval quality"), so a real regression
fails while the embedding model's small run-to-run differences do not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from retrieval_eval import (
    ModeScore,
    corpus_files,
    describe,
    evaluate_all,
    index_corpus,
    load_questions,
    normalize,
)

from core.rag.chunk import Chunker
from core.rag.embed import Embedder
from core.rag.library import DocumentLibrary
from core.rag.parse import parse_file

# Measured (54 questions): hybrid 1.00 / 0.89 / 0.89, dense 0.96 / 0.76 / 0.84,
# bm25 0.85 / 0.81 / 0.68 (top-1 document / answer@3 / PDF page).
HYBRID_TOP1_FLOOR = 0.90
HYBRID_ANSWER_FLOOR = 0.78
HYBRID_PDF_PAGE_FLOOR = 0.75


@pytest.fixture(scope="module")
def scores(embedder: Embedder, chunker: Chunker,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModeScore]]:
    db = tmp_path_factory.mktemp("retrieval-quality") / "glassbox.sqlite3"
    with DocumentLibrary(db, embedder=embedder, chunker=chunker, parse_time_limit_s=60) as lib:
        index_corpus(lib)
        yield evaluate_all(lib, load_questions())


def _report(scores: dict[str, ModeScore]) -> str:
    return "\n".join(describe(s) for s in scores.values())


def test_questions_point_at_documents_of_the_corpus() -> None:
    names = {p.name for p in corpus_files()}
    questions = load_questions()
    assert len(questions) >= 40
    assert {q.file for q in questions} == names  # every document is asked about
    for q in questions:
        assert (q.page is not None) == q.file.endswith(".pdf"), q.id
    assert len({q.id for q in questions}) == len(questions)
    assert {q.style for q in questions} == {"keyword", "paraphrase"}


def test_every_answer_occurs_in_its_document_and_page() -> None:
    sections = {p.name: parse_file(p) for p in corpus_files()}
    for q in load_questions():
        texts = [normalize(s.text) for s in sections[q.file] if q.page in (None, s.page)]
        for answer in q.answers:
            assert any(normalize(answer) in t for t in texts), (q.id, answer)


def test_hybrid_is_at_least_as_good_as_either_single_mode(
        scores: dict[str, ModeScore]) -> None:
    hybrid, dense, bm25 = scores["hybrid"], scores["dense"], scores["bm25"]
    report = _report(scores)
    for single in (dense, bm25):
        assert hybrid.top1_document >= single.top1_document, report
        assert hybrid.answer_at_3 >= single.answer_at_3, report
    # The issue asks hybrid to beat both: strictly better than each on the combined score.
    assert hybrid.combined > max(dense.combined, bm25.combined), report


def test_hybrid_meets_its_floors(scores: dict[str, ModeScore]) -> None:
    hybrid = scores["hybrid"]
    assert hybrid.top1_document >= HYBRID_TOP1_FLOOR, _report(scores)
    assert hybrid.answer_at_3 >= HYBRID_ANSWER_FLOOR, _report(scores)


def test_pdf_citations_name_the_page_that_answers(scores: dict[str, ModeScore]) -> None:
    hybrid = scores["hybrid"]
    assert hybrid.pdf_questions >= 15
    assert hybrid.pdf_page >= HYBRID_PDF_PAGE_FLOOR, _report(scores)
    for outcome in hybrid.outcomes:
        if outcome.top_file is not None and outcome.top_file.endswith(".pdf"):
            assert outcome.top_page is not None, outcome  # every PDF hit cites its page


def test_corpus_is_small_enough_to_index_quickly() -> None:
    total = sum(p.stat().st_size for p in corpus_files())
    assert total < 4 * 2**20  # a few MB: indexing it is part of this module's run time
