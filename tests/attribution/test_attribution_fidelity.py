"""Occlusion attribution against a recomputation from scratch, the estimate's arithmetic,
the units' coverage, cancel and bad input. The real bundled model in the engine child; the
reference is llama-cpp-python's own Llama in this process, evaluating each cut token list on
a fresh cache.

Why the two could differ at all: the engine decodes only the tokens after each cut, in chunks
of 64, over cached keys and values; the reference decodes the whole list in one batch. On
builds whose matmul kernels change with the batch size (GPU backends, or CPU paths that pick
another kernel for small batches) the sums are rounded in another order. Everything else (the
tokens, their positions, the cached cells' F16 values) is the same. On this CPU build the
numbers came out identical (a difference of exactly 0.0, by sentence and by token), so the
tolerance is tight: 1e-4 nats a token, a thousandth of the smallest effect worth showing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.engine.attribution_types import (
    AttributionProgress,
    AttributionRequest,
    AttributionResult,
    LabeledSpan,
)
from core.engine.client import EngineClient
from core.engine.types import ChatMessage
from core.errors import AttributionError, Cancelled

# Per reply token, natural log (see the docstring: measured 0.0 here).
TOLERANCE = 1e-4

# Short: the machine that runs the suite may be busy, and by token every unit costs a decode.
# A fact the model can only read in the prompt, so the first sentence must drive the reply.
PROMPT = "Mira keeps her keys in the blue jar. Tom keeps his in a drawer. Mira's keys are in the"
REPLY = " blue jar."


def run(engine: EngineClient, request: AttributionRequest) -> tuple[AttributionResult,
                                                                      list[AttributionProgress]]:
    progress: list[AttributionProgress] = []
    result = None
    for event in engine.attribute(request):
        if isinstance(event, AttributionProgress):
            progress.append(event)
        else:
            result = event
    assert result is not None
    return result, progress


@pytest.fixture(scope="module")
def reference(model_path: Path) -> Iterator[object]:
    from core.llama_log import open_llama

    llm = open_llama(str(model_path), n_ctx=256, logits_all=True, n_threads=1)
    yield llm
    llm.close()


def fresh_logprobs(llm: object, prompt: list[int], reply: list[int]) -> np.ndarray:
    """The reply's per-token log-probabilities after `prompt`, evaluated on an empty cache."""
    from core.engine.introspect import log_softmax

    llm.reset()  # type: ignore[attr-defined]
    llm._ctx.kv_cache_clear()  # type: ignore[attr-defined]
    llm.eval(prompt + reply)  # type: ignore[attr-defined]
    scores = llm.scores  # type: ignore[attr-defined]
    return np.array([log_softmax(scores[len(prompt) - 1 + k])[t] for k, t in enumerate(reply)])


@pytest.mark.parametrize("by", ["token", "sentence"])
def test_scores_with_kv_reuse_equal_a_fresh_evaluation(engine: EngineClient, reference: object,
                                                       by: str) -> None:
    request = AttributionRequest(prompt=PROMPT, reply=REPLY, by=by)  # type: ignore[arg-type]
    result, progress = run(engine, request)
    assert not result.cancelled and result.reused_prefix
    ids, reply = list(result.prompt_ids), list(result.reply_ids)
    base = fresh_logprobs(reference, ids, reply)
    assert np.abs(base - np.array(result.baseline_logprobs)).max() < TOLERANCE
    scored = [u for u in result.units if u.scored]
    assert len(scored) == result.done == result.estimate.scored_units
    for unit in scored:
        cut = ids[:unit.token_start] + ids[unit.token_end:]
        expected = base - fresh_logprobs(reference, cut, reply)
        assert np.abs(np.array(unit.token_scores) - expected).max() < TOLERANCE, unit.text
        assert unit.score == pytest.approx(float(expected.sum()), abs=TOLERANCE * len(reply))
    # The cut that matters most is not noise: removing "blue" (or its sentence) moves the
    # reply by much more than the tolerance.
    strongest = result.ranked()[0].score
    assert strongest is not None and strongest > 1.0
    assert progress and progress[-1].done == progress[-1].total == len(scored)
    # The decode count the estimate promised is the one the engine made.
    assert result.decoded_tokens == result.estimate.decode_tokens


def test_reuse_decodes_fewer_tokens_than_recomputing(engine: EngineClient) -> None:
    request = AttributionRequest(prompt=PROMPT, reply=REPLY, by="sentence")
    reused, _ = run(engine, request)
    fresh, _ = run(engine, AttributionRequest(prompt=PROMPT, reply=REPLY, by="sentence",
                                              reuse_prefix=False))
    assert fresh.decoded_tokens == reused.estimate.decode_tokens_without_reuse
    assert reused.decoded_tokens < fresh.decoded_tokens
    for a, b in zip(reused.units, fresh.units, strict=True):
        assert (a.score is None) == (b.score is None)
        if a.score is not None and b.score is not None:
            assert a.score == pytest.approx(b.score, abs=TOLERANCE * len(reused.reply_ids))


def test_estimate_counts_tokens(engine: EngineClient) -> None:
    request = AttributionRequest(prompt=PROMPT, reply=REPLY, by="token")
    estimate = engine.attribution_estimate(request)
    p, r = estimate.prompt_tokens, estimate.reply_tokens
    assert p == engine.count_tokens(PROMPT) and r == engine.count_tokens(REPLY)
    # By token with no special tokens: unit i is token i. Reuse decodes from the cut (from the
    # token before it for the last one: its row predicts the reply); from scratch, all but one.
    with_reuse = (p + r) + sum(p - 1 + r - min(i, p - 2) for i in range(p))
    assert estimate.scored_units == p
    assert estimate.decode_tokens == with_reuse
    assert estimate.decode_tokens_without_reuse == (p + r) + p * (p - 1 + r)
    assert estimate.tokens_per_s > 0
    assert estimate.seconds == pytest.approx(estimate.decode_tokens / estimate.tokens_per_s)


@pytest.mark.parametrize("by", ["token", "word", "sentence"])
def test_units_cover_the_prompt_exactly(engine: EngineClient, model_path: Path, by: str) -> None:
    """The planning code on the model's own tokens of a chat prompt with accents, CJK and an
    emoji (whose bytes several tokens share), in this process with the tokenizer alone."""
    from core.engine.attribution_units import plan_units, token_char_spans
    from core.engine.introspect import Inspector

    messages = [ChatMessage("system", "Be brief."),
                ChatMessage("user", "Héllo wörld: 東京は首都。 Ça va? 🙂 Ünïcödé.")]
    rendered = engine.render_prompt(messages)
    vocab = Inspector.vocab_only(str(model_path))
    pieces = vocab.tokenize(rendered)
    text, spans = token_char_spans([bytes.fromhex(p.bytes_hex) for p in pieces])
    units = plan_units(text, spans, [p.special for p in pieces], by)  # type: ignore[arg-type]
    assert text == rendered
    assert "".join(u.text for u in units) == rendered
    at = 0
    for unit in units:  # contiguous, in order, tokens and characters alike
        assert unit.start == at and rendered[unit.start:unit.end] == unit.text
        at = unit.end
    assert [u.token_start for u in units[1:]] == [u.token_end for u in units[:-1]]
    assert units[0].token_start == 0 and units[-1].token_end == len(pieces)
    # The template's special tokens are kept, every other unit is scored.
    assert {u.text for u in units if not u.scored} == {"<|im_start|>", "<|im_end|>"}
    if by == "word":
        assert [u.text for u in units if "ö" in u.text] == [" wörld", " Ünïcödé"]
    if by == "sentence":
        assert any(u.text.endswith("Ça va?") for u in units)


def test_unicode_prompt_through_the_engine(engine: EngineClient) -> None:
    messages = (ChatMessage("system", "Be brief."), ChatMessage("user", "東京は首都? 🙂"))
    result, _ = run(engine, AttributionRequest(messages=messages, reply="はい。", by="word"))
    assert "".join(u.text for u in result.units) == result.prompt_text
    assert any("🙂" in u.text and u.score is not None for u in result.units)
    assert result.reply_text == "はい。"


def test_passages_by_explicit_spans(engine: EngineClient) -> None:
    first = PROMPT.index("Tom")
    spans = (LabeledSpan(0, first, "1"), LabeledSpan(first, PROMPT.index(" Mira's"), "2"))
    result, _ = run(engine, AttributionRequest(prompt=PROMPT, reply=REPLY, by="passage",
                                               spans=spans))
    scored = [u for u in result.units if u.scored]
    assert [u.label for u in scored] == ["1", "2"]
    assert "".join(u.text for u in result.units) == result.prompt_text
    # The passage that holds the blue jar drives the reply more than Tom's drawer.
    assert scored[0].score is not None and scored[1].score is not None
    assert scored[0].score > scored[1].score


def test_next_token_and_reply_sentences(engine: EngineClient) -> None:
    blue = engine.tokenize(" blue", special=False)[0].id
    result, _ = run(engine, AttributionRequest(prompt=PROMPT, next_token=blue, by="sentence"))
    assert result.reply_ids == (blue,) and len(result.baseline_logprobs) == 1
    by_text = {u.text.strip(): u.score for u in result.units}
    jar, drawer = by_text["Mira keeps her keys in the blue jar."], by_text[
        "Tom keeps his in a drawer."]
    assert jar is not None and drawer is not None and jar > max(drawer, 1.0)
    two, _ = run(engine, AttributionRequest(prompt=PROMPT, reply=" blue jar. It is big.",
                                            by="sentence"))
    assert len(two.sentences) == 2
    for unit in two.units:
        if unit.score is not None:
            assert sum(unit.sentence_scores) == pytest.approx(unit.score, abs=1e-9)


def test_cancel_stops_early_with_a_partial_result(engine: EngineClient) -> None:
    result = None
    progress = 0
    for event in engine.attribute(AttributionRequest(prompt=PROMPT, reply=REPLY, by="token")):
        if isinstance(event, AttributionProgress):
            progress += 1
            engine.cancel()
        else:
            result = event
    assert result is not None and result.cancelled
    assert progress >= 1 and 1 <= result.done < result.estimate.scored_units
    assert len(result.unscored) == result.estimate.scored_units - result.done
    assert sum(u.score is not None for u in result.units) == result.done
    # The engine answers the next request normally.
    assert engine.count_tokens("still here") > 0


@pytest.mark.parametrize("request_, message", [
    (AttributionRequest(prompt="   ", reply="x"), "prompt is empty"),
    (AttributionRequest(prompt=PROMPT, reply=" \n"), "reply is empty"),
    (AttributionRequest(prompt=PROMPT, reply="x", by="passage"), "passages"),
    (AttributionRequest(prompt=PROMPT, reply="x", by="passage",
                        spans=(LabeledSpan(5, 9999, "1"),)), "not inside the prompt"),
    (AttributionRequest(prompt="Hi", reply="x", by="sentence"), "whole prompt is one unit"),
    (AttributionRequest(prompt=PROMPT, next_token=10**9), "not in this model's vocabulary"),
])
def test_bad_input_is_refused_clearly(engine: EngineClient, request_: AttributionRequest,
                                      message: str) -> None:
    with pytest.raises(AttributionError, match=message):
        engine.attribution_estimate(request_)
    with pytest.raises(AttributionError, match=message):
        list(engine.attribute(request_))


def test_a_long_prompt_by_token_is_estimated_and_cancelled(model_path: Path) -> None:
    client = EngineClient()
    try:
        client.load(model_path, n_ctx=4352)
        words = " ".join("the cat sat on a mat and".split() * 600)  # 4,200 tokens
        request = AttributionRequest(prompt=words, reply=" end.", by="token")
        estimate = client.attribution_estimate(request)
        assert estimate.prompt_tokens >= 4000
        p, r = estimate.prompt_tokens, estimate.reply_tokens
        assert estimate.decode_tokens > p * p // 2  # quadratic: about half the prompt a unit
        text = estimate.describe()  # minutes or hours, said before it starts
        assert estimate.seconds > 60 and (" min" in text or " h" in text), text
        timer = threading.Timer(0.5, client.cancel)
        timer.start()
        try:
            with pytest.raises(Cancelled, match="cancelled"):
                list(client.attribute(request))
        finally:
            timer.cancel()
        assert client.count_tokens("ok") > 0  # nothing left over in the pipe
        assert r > 0
    finally:
        client.close()


def test_too_long_for_the_context_is_refused(engine: EngineClient) -> None:
    assert engine.model is not None
    long = "word " * (engine.model.n_ctx + 10)
    with pytest.raises(AttributionError, match="larger context"):
        engine.attribution_estimate(AttributionRequest(prompt=long, reply="x"))
