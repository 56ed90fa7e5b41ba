"""What a saved run says: per subject and metric a mean with a bootstrap interval, corpus BLEU
and chrF, skipped counts, significance between subjects, and CSV/JSON exports."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.evals import metrics as m
from core.evals.stats import Difference, Interval, Statistic, bootstrap, mean_of, paired_bootstrap

if TYPE_CHECKING:
    from core.store.evals import StoredResult, StoredRun


@dataclass(frozen=True)
class MetricSummary:
    metric: str
    interval: Interval
    skipped: int  # items that lacked what the metric needs
    explanation: str
    corpus: float | None = None  # corpus BLEU / chrF (sacrebleu's corpus_score)
    tokenizer: str | None = None  # BLEU's tokenizer
    unparsed: int = 0  # labels or judge verdicts not found in the reply


@dataclass(frozen=True)
class SubjectSummary:
    subject: int
    label: str
    completed: int
    failed: int
    metrics: list[MetricSummary]
    items_per_s: float


def _complete(results: Sequence[StoredResult], subject: int) -> list[StoredResult]:
    return [r for r in results if r.subject == subject and r.status == "complete"]


def _statistic(metric: str, rows: Sequence[StoredResult]) -> tuple[Statistic, int] | None:
    if metric == "macro_f1":
        pairs = [(r.detail["label"]["predicted"], r.detail["label"]["gold"]) for r in rows
                 if "label" in r.detail]
        if not pairs:
            return None
        predicted, gold = zip(*pairs, strict=True)
        p, g = np.array(predicted, dtype=object), np.array(gold, dtype=object)
        return (lambda idx: m.macro_f1(list(p[idx]), list(g[idx]))), len(pairs)
    values = [r.scores[metric] for r in rows if metric in r.scores]
    return (mean_of(values), len(values)) if values else None


def summarise(run: StoredRun, results: Sequence[StoredResult], seed: int = 1234,
              resamples: int = 1000) -> list[SubjectSummary]:
    out = []
    for index, subject in enumerate(run.subjects):
        rows = _complete(results, index)
        failed = sum(r.subject == index and r.status == "failed" for r in results)
        seconds = sum(r.seconds for r in rows)
        metrics = []
        for metric in run.metrics:
            skipped = sum(metric in r.detail.get("skipped", ()) for r in rows)
            found = _statistic(metric, rows)
            interval = (bootstrap(found[0], found[1], resamples, seed) if found
                        else Interval(math.nan, math.nan, math.nan, 0))
            corpus, tokenizer = _corpus(metric, rows)
            metrics.append(MetricSummary(metric, interval, skipped, m.EXPLANATIONS[metric],
                                         corpus, tokenizer, _unparsed(metric, rows)))
        out.append(SubjectSummary(index, subject["label"], len(rows), failed, metrics,
                                  len(rows) / seconds if seconds else 0.0))
    return out


def _corpus(metric: str, rows: Sequence[StoredResult]) -> tuple[float | None, str | None]:
    scored = [r for r in rows if metric in r.scores and r.detail.get("references")]
    if metric not in ("bleu", "chrf") or not scored:
        return None, None
    replies = [r.reply for r in scored]
    references = [r.detail["references"] for r in scored]
    if metric == "bleu":
        return m.corpus_bleu(replies, references)
    return m.corpus_chrf(replies, references), None


def _unparsed(metric: str, rows: Sequence[StoredResult]) -> int:
    if metric in ("accuracy", "macro_f1"):
        return sum(r.detail.get("label", {}).get("predicted") == m.UNPARSED for r in rows)
    if metric == "judge":
        return sum(not r.detail["judge"]["parsed"] for r in rows if "judge" in r.detail)
    return 0


def paired(metric: str, a: Sequence[StoredResult], b: Sequence[StoredResult],
           seed: int = 1234, resamples: int = 1000) -> Difference | None:
    """A minus B on the items both scored (matched by item id), by paired bootstrap."""
    by_id = {r.item_id: r for r in b}
    pairs = [(r, by_id[r.item_id]) for r in a if r.item_id in by_id]
    if metric == "macro_f1":
        both = [(x, y) for x, y in pairs if "label" in x.detail and "label" in y.detail]
        if not both:
            return None
        fa = _statistic(metric, [x for x, _ in both])
        fb = _statistic(metric, [y for _, y in both])
        assert fa is not None and fb is not None
        return paired_bootstrap(fa[0], fb[0], len(both), resamples, seed)
    values = [(x.scores[metric], y.scores[metric]) for x, y in pairs
              if metric in x.scores and metric in y.scores]
    if not values:
        return None
    va, vb = zip(*values, strict=True)
    return paired_bootstrap(mean_of(va), mean_of(vb), len(values), resamples, seed)


def significance(run: StoredRun, results: Sequence[StoredResult]) -> list[dict[str, Any]]:
    """Every later subject against the first, per metric, with a sentence saying whether they
    differ."""
    notes = []
    first = _complete(results, 0)
    for index in range(1, len(run.subjects)):
        other = _complete(results, index)
        for metric in run.metrics:
            diff = paired(metric, first, other)
            if diff is None:
                continue
            a, b = run.subjects[0]["label"], run.subjects[index]["label"]
            notes.append({"a": 0, "b": index, "metric": metric, **asdict(diff),
                          "significant": diff.significant, "note": diff.note(a, b, metric)})
    return notes


def compare_runs(run_a: StoredRun, results_a: Sequence[StoredResult], run_b: StoredRun,
                 results_b: Sequence[StoredResult]) -> list[dict[str, Any]]:
    """Two saved runs on the same set: each subject of A against the subject of B with the
    same label (else B's first), metric by metric."""
    rows = []
    for index, subject in enumerate(run_a.subjects):
        labels = [s["label"] for s in run_b.subjects]
        other = labels.index(subject["label"]) if subject["label"] in labels else 0
        for metric in run_a.metrics:
            if metric not in run_b.metrics:
                continue
            diff = paired(metric, _complete(results_a, index), _complete(results_b, other))
            if diff is None:
                continue
            a = f"run {run_a.id} {subject['label']}"
            b = f"run {run_b.id} {labels[other]}"
            rows.append({"metric": metric, "a": a, "b": b, **asdict(diff),
                         "significant": diff.significant, "note": diff.note(a, b, metric)})
    return rows


def run_json(run: StoredRun, results: Sequence[StoredResult]) -> dict[str, Any]:
    """Everything about a run: subjects, summaries, significance and every item's result."""
    return {
        "run": {"id": run.id, "title": run.title, "set": run.set_name, "set_path": run.set_path,
                "status": run.status, "metrics": run.metrics, "options": run.options,
                "created_at": run.created_at},
        "subjects": run.subjects,
        "explanations": {k: m.EXPLANATIONS[k] for k in run.metrics},
        "summary": [_nan_free(asdict(s)) for s in summarise(run, results)],
        "significance": _nan_free(significance(run, results)),
        "items": [{"subject": r.subject, "label": run.subjects[r.subject]["label"],
                   "item_id": r.item_id, "reply": r.reply, "scores": r.scores,
                   "references": r.detail.get("references", []), "status": r.status,
                   "detail": r.detail, "seconds": r.seconds} for r in results],
    }


def _nan_free(value: Any) -> Any:
    # JSON has no NaN: a metric with no scored item is null, not an invalid document.
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_free(v) for v in value]
    return value


def run_csv(run: StoredRun, results: Sequence[StoredResult]) -> str:
    """One row per subject and item: the reply, the references and each metric's value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "subject", "item_id", "status", "reply", "references",
                     *run.metrics])
    for r in results:
        writer.writerow([run.id, run.subjects[r.subject]["label"], r.item_id, r.status,
                         r.reply, " || ".join(r.detail.get("references", [])),
                         *[r.scores.get(metric, "") for metric in run.metrics]])
    return buffer.getvalue()
