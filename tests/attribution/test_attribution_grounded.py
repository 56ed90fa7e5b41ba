"""A grounded answer attributed by passage: the passages found in the prompt the model read,
and the passage that drove each answer sentence. The real grounding code and model; the
search returns two fixed passages (what retrieval would hand over)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.engine.attribution_types import AttributionResult
from core.engine.client import EngineClient
from core.engine.types import ChatMessage
from core.errors import AttributionError
from core.rag.grounding import Grounding, ground, passage_block
from core.rag.passage_attribution import grounded_request, passage_spans, sentence_drivers
from core.rag.retrieve import Hit

PASSAGES = ("The Old Harbour lighthouse was first lit in 1882 by the keeper Ada Lind.",
            "Bananas ripen faster in a paper bag because of the ethylene they release.")
QUESTION = "When was the lighthouse first lit, and how do bananas ripen faster?"
ANSWER = "It was first lit in 1882 [1]. Bananas ripen faster in a paper bag [2]."


def _search(query: str, names: Sequence[str], top_k: int) -> list[Hit]:
    return [Hit(i, i, names[0], f"/docs/note{i}.md", None, None, text, None, None, None,
                None, 1.0 / i, i) for i, text in enumerate(PASSAGES, start=1)]


@pytest.fixture
def grounding(engine: EngineClient) -> Grounding:
    assert engine.model is not None
    return ground([ChatMessage("user", QUESTION)], ["notes"], _search, engine,
                  engine.model.n_ctx, 64)


def test_passage_spans_point_at_the_blocks_the_model_read(grounding: Grounding) -> None:
    spans = passage_spans(grounding)
    assert [s.label for s in spans] == ["1", "2"]
    for span, source in zip(spans, grounding.sources, strict=True):
        assert grounding.rendered[span.start:span.end] == passage_block(source)


def test_each_answer_sentence_is_driven_by_its_passage(engine: EngineClient,
                                                      grounding: Grounding) -> None:
    result = None
    for event in engine.attribute(grounded_request(grounding, ANSWER)):
        if isinstance(event, AttributionResult):
            result = event
    assert result is not None and result.by == "passage"
    assert [u.label for u in result.units if u.scored] == ["1", "2"]
    drivers = sentence_drivers(result)
    assert [d.text for d in drivers] == ["It was first lit in 1882 [1].",
                                         "Bananas ripen faster in a paper bag [2]."]
    assert [d.number for d in drivers] == [1, 2]
    for driver in drivers:  # each passage's drop, strongest first, the driver's among them
        assert [d.drop for d in driver.drops] == sorted((d.drop for d in driver.drops),
                                                        reverse=True)
        assert driver.drop == driver.drops[0].drop > 0


def test_an_answer_without_passages_is_refused(engine: EngineClient) -> None:
    assert engine.model is not None
    bare = ground([ChatMessage("user", QUESTION)], [], _search, engine, engine.model.n_ctx, 64)
    with pytest.raises(AttributionError, match="not grounded"):
        passage_spans(bare)
