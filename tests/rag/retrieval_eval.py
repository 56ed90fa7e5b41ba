"""Retrieval quality over real third-party documents, with questions written for them.

Corpora (tests/data/<name>/, each with a README naming its source and licence):
- pydocs: 15 pages of the Python 3.11 documentation (issue 3). Retrieval was tuned on these
  questions, so the whole set counts as tuning: it has no held-back half.
- gitdocs: 50 pages of Git's manual; pgdocs: 50 pages of PostgreSQL 15's (issue 17). Their
  questions were written before any search ran and are split into a tuning half and a
  held-back half. Changes are chosen on the tuning half; the held-back half is measured at the
  end of a change and only reported in aggregate (`describe(..., misses=False)`).

Plain functions, shared by tests/rag/test_retrieval_quality.py and bench/rag_quality.py:
index a corpus once, then score each search mode (or the naive baseline) on the same
questions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.rag.library import DocumentLibrary, IndexSummary
from core.rag.retrieve import MODES

DATA = Path(__file__).resolve().parents[1] / "data"
DOCUMENT_SUFFIXES = (".html", ".pdf")
ANSWER_DEPTH = 3  # "a passage containing the answer is in the top 3"
HALVES = ("tuning", "held")


@dataclass(frozen=True)
class Corpus:
    name: str  # its folder under tests/data, and its collection's name
    title: str

    @property
    def folder(self) -> Path:
        return DATA / self.name

    def files(self) -> list[Path]:
        """The documents only: README, licence and questions are not part of the corpus."""
        return sorted(p for p in self.folder.iterdir() if p.suffix in DOCUMENT_SUFFIXES)

    def tuning_files(self) -> list[Path]:
        """The documents the tuning half asks about: the tests index only these, so that a
        50-page corpus indexes in under a minute (the benchmark indexes every file)."""
        wanted = {q.file for q in self.questions("tuning")}
        return [p for p in self.files() if p.name in wanted]

    def questions(self, half: str | None = None) -> list[Question]:
        """Every question, or one half's."""
        rows = json.loads((self.folder / "questions.json").read_text(encoding="utf-8"))
        found = [Question(r["id"], r["question"], r["file"], r["page"], tuple(r["answers"]),
                          r["style"], r.get("half", "tuning"))
                 for r in rows["questions"]]
        return [q for q in found if half is None or q.half == half]

    def halves(self) -> list[str]:
        """The halves this corpus has questions in (pydocs: tuning only)."""
        present = {q.half for q in self.questions()}
        return [h for h in HALVES if h in present]


PYDOCS = Corpus("pydocs", "Python 3.11 documentation")
GITDOCS = Corpus("gitdocs", "Git 2.39 manual")
PGDOCS = Corpus("pgdocs", "PostgreSQL 15 documentation")
CORPORA = (PYDOCS, GITDOCS, PGDOCS)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    file: str  # the expected document's file name
    page: int | None  # the expected 1-based page, PDFs only
    answers: tuple[str, ...]  # each occurs literally in a passage that answers the question
    style: str  # "keyword" (terms of the page) or "paraphrase" (the asker's own words)
    half: str = "tuning"  # "tuning" or "held" (held back: aggregate figures only)


class Passage(Protocol):
    """What the judge reads of a hit: Glassbox's `Hit` and the naive baseline's alike."""

    @property
    def path(self) -> str: ...
    @property
    def page(self) -> int | None: ...
    @property
    def text(self) -> str: ...


Search = Callable[[str], Sequence[Passage]]  # question -> hits, best first


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

    def only(self, half: str) -> ModeScore:
        return ModeScore(self.mode, tuple(o for o in self.outcomes if o.question.half == half))


def _rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def index_corpus(library: DocumentLibrary, corpus: Corpus,
                 files: Sequence[Path] | None = None) -> IndexSummary:
    """Add and index the corpus (or some of its files) into the collection named after it;
    fails loudly if any document failed."""
    library.add_paths(corpus.name, files if files is not None else corpus.files())
    summary = library.index(corpus.name)
    if summary.failed:
        raise AssertionError(f"documents failed to index: {summary.failures}")
    return summary


def normalize(text: str) -> str:
    return " ".join(text.split()).casefold()


def holds_answer(hit: Passage, question: Question) -> bool:
    """Whether the hit is a passage of the expected document that holds one of the answers
    (case and whitespace aside). The document must match too: the same words elsewhere are
    not the passage the question was written from."""
    if Path(hit.path).name != question.file:
        return False
    text = normalize(hit.text)
    return any(normalize(answer) in text for answer in question.answers)


def judge(question: Question, hits: Sequence[Passage]) -> Outcome:
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


def score(search: Search, questions: Sequence[Question], mode: str) -> ModeScore:
    """Run every question through `search` and judge the hits."""
    return ModeScore(mode, tuple(judge(q, search(q.question)) for q in questions))


def evaluate(library: DocumentLibrary, questions: Sequence[Question], mode: str,
             collection: str) -> ModeScore:
    """Every question through `library.search` in `mode`, judged."""
    return score(lambda text: library.search(text, collection, top_k=ANSWER_DEPTH, mode=mode),
                 questions, mode)


def evaluate_all(library: DocumentLibrary, questions: Sequence[Question],
                 collection: str) -> dict[str, ModeScore]:
    return {mode: evaluate(library, questions, mode, collection) for mode in MODES}


def describe(score: ModeScore, misses: bool = True) -> str:
    """One line for the mode, and (with `misses`) one per miss: for failure messages and the
    benchmark. Held-back questions are never listed, whatever `misses` says."""
    lines = [f"{score.mode}: top-1 document {score.top1_document:.3f}, answer@3 "
             f"{score.answer_at_3:.3f}, PDF page {score.pdf_page:.3f} "
             f"({score.questions} questions)"]
    if misses:
        for o in score.misses():
            if o.question.half != "tuning":
                continue
            where = f"{o.top_file} p.{o.top_page}" if o.top_page else str(o.top_file)
            lines.append(f"  {o.question.id} [{o.question.style}] {o.question.question!r}: "
                         f"top {where}, answer@3 {o.answer_at_3}")
    return "\n".join(lines)
