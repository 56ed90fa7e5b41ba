"""Retrieval quality of Glassbox's hybrid search (dense + BM25, rank fusion) against each single
mode, on real documents: pages of the Python 3.11 docs (Debian's python3.11-doc), some printed
to PDF, with the questions of tests/data/pydocs/questions.json.

Quality figures are rates, not times: "glassbox" is hybrid search, "baseline" a single mode on
the same index and questions, and the ratio is hybrid / single (above 1 means hybrid is better).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from core.rag.library import DocumentLibrary
from tests.rag import retrieval_eval as ev

METRICS = (
    ("top1_document", "top-1 document accuracy"),
    ("answer_at_3", "a passage holding the answer in the top 3"),
    ("pdf_page", "PDF questions: top hit on the expected page"),
)
BASELINES = (("dense", "dense-only (embeddings)"), ("bm25", "BM25-only (SQLite FTS5)"))


def _figures(scores: dict[str, ev.ModeScore], documents: int) -> list[dict[str, Any]]:
    hybrid = scores["hybrid"]
    rows = []
    for attribute, label in METRICS:
        count = hybrid.pdf_questions if attribute == "pdf_page" else hybrid.questions
        ours = getattr(hybrid, attribute)
        for mode, described in BASELINES:
            theirs = getattr(scores[mode], attribute)
            rows.append({
                "name": f"{label} ({count} questions, {documents} documents), hybrid vs {mode}",
                "glassbox": round(ours, 3),
                "baseline": round(theirs, 3),
                "baseline_is": f"{described} search on the same index and questions",
                "ratio": round(ours / theirs, 3) if theirs else None,
            })
    return rows


def run() -> dict[str, Any]:
    questions = ev.load_questions()
    documents = ev.corpus_files()
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-") as folder, \
            DocumentLibrary(Path(folder) / "bench.sqlite3", parse_time_limit_s=60) as library:
        started = time.perf_counter()
        summary = ev.index_corpus(library)
        index_s = time.perf_counter() - started
        started = time.perf_counter()
        scores = ev.evaluate_all(library, questions)
        search_s = time.perf_counter() - started
    return {
        "name": "retrieval quality on Python 3.11 documentation pages (HTML and PDF)",
        "figures": _figures(scores, len(documents)),
        "modes": {mode: {"top1_document": round(s.top1_document, 3),
                         "answer_at_3": round(s.answer_at_3, 3),
                         "pdf_page": round(s.pdf_page, 3),
                         "misses": [o.question.id for o in s.misses()]}
                  for mode, s in scores.items()},
        "questions": len(questions),
        "pdf_questions": scores["hybrid"].pdf_questions,
        "documents": len(documents),
        "html_documents": sum(p.suffix == ".html" for p in documents),
        "pdf_documents": sum(p.suffix == ".pdf" for p in documents),
        "chunks": summary.chunks,
        "index_s": round(index_s, 1),
        "search_s_all_modes": round(search_s, 1),
    }
