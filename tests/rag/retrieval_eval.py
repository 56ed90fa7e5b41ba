"""Retrieval quality over real third-party documents: pages of the Python 3.11 documentation
(HTML, and some printed to PDF) with questions written for them (tests/data/pydocs).

Plain functions, shared by tests/rag/test_retrieval_quality.py and bench/rag_quality.py:
index the corpus once, then score each search mode on the same questions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.rag.library import DocumentLibrary, IndexSummary
from core.rag.retrieve import MODES, Hit

CORPUS = Path(__file__).resolve().parents[1] / "data" / "pydocs"
QUESTIONS = CORPUS / "questions.json"
DOCUMENT_SUFFIXES = (".html", ".pdf")
COLLECTION = "pydocs"
ANSWER_DEPTH = 3  # "a passage containing the answer is in the top 3"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    file: str  # the expected document's file name
    page: int | None  # the expected 1-based page, PDFs only
    answers: tuple[str, ...]  # each occurs literally in a passage that answers the question
    style: str  # "keyword" (terms of the page) or "paraphrase" (the asker's own words)


@dataclass(frozen=True)
class Outcome:
    question: Question
    top_file: str | None
    top_page: int | None
    document_hit: bool  # the top hit comes from the expected document
    answer_at_3: bool  # a top-3 hit from the expected document holds an answer
    page_hit: bool | None  # PDFs: the top hit is the expected document's expected page


@dataclass(frozen=True)
class ModeScore:
    mode: str
    outcomes: tuple[Outcome, ...]

    @property
    def questions(self) -> int:
        return len(self.outcomes)

    @property
    def top1_document(self) -> float:
        return _rate([o.document_hit for o in self.outcomes])

    @property
    def answer_at_3(self) -> float:
        return _rate([o.answer_at_3 for o in self.outcomes])

    @property
    def pdf_questions(self) -> int:
        return sum(o.page_hit is not None for o in self.outcomes)

    @property
    def pdf_page(self) -> float:
        return _rate([o.page_hit for o in self.outcomes if o.page_hit is not None])

    @property
    def combined(self) -> float:
        """Top-1 document accuracy plus answer@3: one number to rank modes by."""
        return self.top1_document + self.answer_at_3

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if not (o.document_hit and o.answer_at_3)]


def _rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    rows = json.loads(path.read_text(encoding="utf-8"))["questions"]
    return [Question(r["id"], r["question"], r["file"], r["page"], tuple(r["answers"]),
                     r["style"]) for r in rows]


def corpus_files(folder: Path = CORPUS) -> list[Path]:
    """The documents only: the folder's README and questions are not part of the corpus."""
    return sorted(p for p in folder.iterdir() if p.suffix in DOCUMENT_SUFFIXES)


def index_corpus(library: DocumentLibrary, collection: str = COLLECTION,
                 folder: Path = CORPUS) -> IndexSummary:
    """Add and index every document of the corpus; fails loudly if any document failed."""
    library.add_paths(collection, corpus_files(folder))
    summary = library.index(collection)
    if summary.failed:
        raise AssertionError(f"documents failed to index: {summary.failures}")
    return summary


def normalize(text: str) -> str:
    return " ".join(text.split()).casefold()


def holds_answer(hit: Hit, question: Question) -> bool:
    """Whether the hit is a passage of the expected document that holds one of the answers
    (case and whitespace aside). The document must match too: the same words elsewhere are
    not the passage the question was written from."""
    if Path(hit.path).name != question.file:
        return False
    text = normalize(hit.text)
    return any(normalize(answer) in text for answer in question.answers)


def judge(question: Question, hits: Sequence[Hit]) -> Outcome:
    top = hits[0] if hits else None
    top_file = Path(top.path).name if top else None
    document_hit = top_file == question.file
    page_hit = None
    if question.page is not None:
        page_hit = document_hit and top is not None and top.page == question.page
    return Outcome(
        question=question,
        top_file=top_file,
        top_page=top.page if top else None,
        document_hit=document_hit,
        answer_at_3=any(holds_answer(h, question) for h in hits[:ANSWER_DEPTH]),
        page_hit=page_hit,
    )


def evaluate(library: DocumentLibrary, questions: Sequence[Question], mode: str,
             collection: str = COLLECTION) -> ModeScore:
    """Run every question through `library.search` in `mode` and judge the hits."""
    outcomes = tuple(judge(q, library.search(q.question, collection, top_k=ANSWER_DEPTH,
                                             mode=mode))
                     for q in questions)
    return ModeScore(mode, outcomes)


def evaluate_all(library: DocumentLibrary, questions: Sequence[Question],
                 collection: str = COLLECTION) -> dict[str, ModeScore]:
    return {mode: evaluate(library, questions, mode, collection) for mode in MODES}


def describe(score: ModeScore) -> str:
    """One line per mode, and one per miss: for failure messages and the benchmark."""
    lines = [f"{score.mode}: top-1 document {score.top1_document:.3f}, answer@3 "
             f"{score.answer_at_3:.3f}, PDF page {score.pdf_page:.3f} "
             f"({score.questions} questions)"]
    for o in score.misses():
        where = f"{o.top_file} p.{o.top_page}" if o.top_page else str(o.top_file)
        lines.append(f"  {o.question.id} [{o.question.style}] {o.question.question!r}: "
                     f"top {where}, answer@3 {o.answer_at_3}")
    return "\n".join(lines)
