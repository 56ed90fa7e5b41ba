"""Which retrieved passage drove each sentence of a grounded answer, by occlusion.

The word-overlap match in core.rag.attribution says where an answer's words came from; this
asks the model: with passage [n] cut out of the grounded prompt, how much less likely does
each answer sentence become? The passage whose removal costs a sentence the most log-
probability drove it. Both travel as plain data for the Sources pane and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engine.attribution_types import AttributionRequest, AttributionResult, LabeledSpan
from core.errors import AttributionError
from core.rag.grounding import Grounding, passage_block


@dataclass(frozen=True)
class PassageDrop:
    number: int  # the passage's citation number
    drop: float  # the sentence's log-probability with the passage minus without it


@dataclass(frozen=True)
class SentenceDriver:
    """One answer sentence and the passage that drove it (None: no passage raised it)."""

    start: int  # in the answer
    end: int
    text: str
    number: int | None
    drop: float
    drops: tuple[PassageDrop, ...]  # every passage's, strongest first


def passage_spans(grounding: Grounding) -> tuple[LabeledSpan, ...]:
    """Each passage block's place in the grounded prompt the model read (`rendered`),
    labelled with its citation number."""
    spans = []
    at = 0
    for source in grounding.sources:
        block = passage_block(source)
        start = grounding.rendered.find(block, at)
        if start < 0:
            raise AttributionError(f"Passage [{source.number}] is not in the prompt as "
                                   "rendered (the grounding was saved for another prompt).")
        spans.append(LabeledSpan(start, start + len(block), str(source.number)))
        at = start + len(block)
    if not spans:
        raise AttributionError("This answer was not grounded: it has no passages to weigh. "
                               "Choose token, word or sentence instead.")
    return tuple(spans)


def grounded_request(grounding: Grounding, answer: str) -> AttributionRequest:
    """The attribution of `answer` to the passages of the prompt it was written after."""
    return AttributionRequest(prompt=grounding.rendered, reply=answer, by="passage",
                              spans=passage_spans(grounding))


def sentence_drivers(result: AttributionResult, min_drop: float = 0.0) -> list[SentenceDriver]:
    """For each answer sentence, the passages by how much their removal lowered it; the
    driver is the strongest whose drop exceeds `min_drop` (natural log)."""
    passages = [u for u in result.units if u.scored and u.sentence_scores and u.label.isdigit()]
    out = []
    for k, sentence in enumerate(result.sentences):
        drops = sorted((PassageDrop(int(u.label), u.sentence_scores[k]) for u in passages),
                       key=lambda d: d.drop, reverse=True)
        best = drops[0] if drops and drops[0].drop > min_drop else None
        out.append(SentenceDriver(sentence.start, sentence.end,
                                  result.reply_text[sentence.start:sentence.end].strip(),
                                  best.number if best else None,
                                  best.drop if best else 0.0, tuple(drops)))
    return out
