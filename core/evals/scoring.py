"""One item, one subject: the reply (when a metric needs one) and every wanted metric's value.

Metrics that need something the item lacks (a reference, a label, choices, gold passages) are
skipped and listed in `detail["skipped"]`, so the summary can count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.errors import Cancelled
from core.evals import metrics as m
from core.evals.choices import score_choices
from core.evals.judge import judge
from core.evals.sets import EvalItem

if TYPE_CHECKING:
    from core.rag.library import DocumentLibrary



@dataclass
class ItemResult:
    reply: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What scoring needs beyond the subject's engine."""

    metrics: tuple[str, ...]
    labels: tuple[str, ...] = ()
    k: int = 5
    judge_engine: Any = None  # anything with generate(); None: the metric is skipped
    rubric: str = ""
    library: DocumentLibrary | None = None


def generate(engine: Any, messages: list[ChatMessage], sampling: SamplingSettings) -> str:
    """The whole reply; Cancelled when the engine stopped it (so it is not saved)."""
    for event in engine.generate(messages, sampling):
        if isinstance(event, DoneEvent):
            if event.finish_reason == "cancelled":
                raise Cancelled("The evaluation was stopped.")
            return event.text
    raise Cancelled("The evaluation was stopped.")


def _gold_rank(item: EvalItem, hits: Sequence[Any]) -> int | None:
    """1-based rank of the first passage matching a gold snippet or file name."""
    for rank, hit in enumerate(hits, start=1):
        text = hit.text.casefold()
        if any(g.casefold() in text or g == Path(hit.path).name for g in item.gold):
            return rank
    return None


def _needs_reply(item: EvalItem, wanted: set[str]) -> bool:
    """Generate only for a metric this item can be scored on: a multiple-choice item in a
    mixed set costs no generation."""
    return bool((item.references and wanted & set(m.REFERENCE_METRICS))
                or (item.label is not None and wanted & {"accuracy", "macro_f1"})
                or (item.schema is not None and wanted & {"json_valid", "schema"})
                or "judge" in wanted)


def score_item(engine: Any, item: EvalItem, messages_for: Any, sampling: SamplingSettings,
               ctx: Context) -> ItemResult:
    """`messages_for(passages)` builds the subject's messages around retrieved passages."""
    result = ItemResult()
    skipped: list[str] = []
    wanted = set(ctx.metrics)
    passages: list[str] = []
    if wanted & {"hit_at_k", "mrr"}:
        if item.collection and item.gold and ctx.library is not None:
            hits = ctx.library.search(item.prompt, item.collection, top_k=ctx.k)
            rank = _gold_rank(item, hits)
            result.scores["hit_at_k"] = float(rank is not None)
            result.scores["mrr"] = 1.0 / rank if rank else 0.0
            result.detail["retrieved"] = [{"path": h.path, "page": h.page, "rank": h.rank}
                                          for h in hits]
            passages = [h.text for h in hits]
        else:
            skipped += [n for n in ("hit_at_k", "mrr") if n in wanted]
    messages = messages_for(passages)
    if _needs_reply(item, wanted):
        result.reply = generate(engine, messages, sampling)
    _reference_metrics(item, result, wanted, skipped)
    _label_and_json(item, result, wanted, skipped, ctx.labels)
    if wanted & {"choice_acc", "choice_acc_norm"}:
        if item.choices and item.answer is not None:
            choice = score_choices(engine, messages, item.choices)
            result.scores["choice_acc"] = float(choice.picked == item.answer)
            result.scores["choice_acc_norm"] = float(choice.picked_norm == item.answer)
            result.detail["choices"] = {**choice.to_json(), "answer": item.answer}
        else:
            skipped += [n for n in ("choice_acc", "choice_acc_norm") if n in wanted]
    if "perplexity" in wanted:
        if item.references:
            view = engine.surprise(item.references[0], context=messages)
            result.scores["perplexity"] = float(view.perplexity)
        else:
            skipped.append("perplexity")
    if "judge" in wanted:
        if ctx.judge_engine is not None:
            verdict = judge(ctx.judge_engine, item.prompt, result.reply, item.references,
                            ctx.rubric)
            result.detail["judge"] = verdict.to_json()
            if verdict.normalised is not None:
                result.scores["judge"] = verdict.normalised
        else:
            skipped.append("judge")
    if skipped:
        result.detail["skipped"] = skipped
    return result


def _reference_metrics(item: EvalItem, result: ItemResult, wanted: set[str],
                       skipped: list[str]) -> None:
    asked = [n for n in m.REFERENCE_METRICS if n in wanted]
    if not asked:
        return
    if not item.references:
        skipped += asked
        return
    scores = m.reference_scores(result.reply, item.references, asked)
    result.scores.update(scores.values)
    skipped += [n for n in asked if n not in scores.values]  # ROUGE outside Latin-like scripts
    result.detail["bleu_tokenizer"] = scores.bleu_tokenizer
    result.detail["references"] = list(item.references)


def _label_and_json(item: EvalItem, result: ItemResult, wanted: set[str], skipped: list[str],
                    labels: tuple[str, ...]) -> None:
    if wanted & {"accuracy", "macro_f1"}:
        if item.label is not None:
            predicted = m.parse_label(result.reply, labels or (item.label,))
            result.scores["accuracy"] = float(predicted == item.label)
            result.detail["label"] = {"predicted": predicted, "gold": item.label}
        else:
            skipped += [n for n in ("accuracy", "macro_f1") if n in wanted]
    if wanted & {"json_valid", "schema"}:
        if item.schema is None:
            skipped += [n for n in ("json_valid", "schema") if n in wanted]
            return
        scores = m.json_scores(result.reply, item.schema)
        result.scores["json_valid"] = scores["json_valid"]
        if "schema" in wanted:
            if "schema" in scores:
                result.scores["schema"] = scores["schema"]
            else:
                skipped.append("schema")
