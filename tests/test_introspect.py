"""Introspection from the running model, checked against computations made independently here:
a second llama.cpp instance in this process with logits kept for every position."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.engine.client import EngineClient
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.errors import PromptError

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "The capital of France is"
TEXT = "The capital of France is Paris. The capital of Germany is Berlin."


@pytest.fixture(scope="module")
def reference(model_path: Path) -> Iterator[Any]:
    import llama_cpp

    llm = llama_cpp.Llama(str(model_path), n_ctx=256, logits_all=True, verbose=False)
    yield llm
    llm.close()


def reference_logits(llm: Any, ids: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float64)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def test_token_ids_equal_llama_cpp_tokenize(engine: EngineClient, reference: Any) -> None:
    text = "Hello wörld 🙂 <|im_start|>user\n  tabs\tand spaces"
    pieces = engine.tokenize(text)
    assert [p.id for p in pieces] == reference.tokenize(text.encode(), add_bos=False,
                                                        special=True)
    assert b"".join(bytes.fromhex(p.bytes_hex) for p in pieces) == text.encode()
    assert [p.special for p in pieces].count(True) == 1  # <|im_start|>
    plain = engine.tokenize(text, special=False)
    assert not any(p.special for p in plain) and len(plain) > len(pieces)


def test_next_token_probabilities_are_the_softmax_of_the_logits(engine: EngineClient,
                                                               reference: Any) -> None:
    view = engine.next_token(PROMPT, SamplingSettings(temperature=1.0), top=20)
    ids = reference.tokenize(PROMPT.encode(), add_bos=False, special=True)
    expected = softmax(reference_logits(reference, ids)[-1])
    assert view.prompt_tokens == len(ids)
    assert [c.id for c in view.raw[:5]] == list(np.argsort(-expected)[:5])
    for c in view.raw:
        assert c.prob == pytest.approx(expected[c.id], abs=2e-3)
    assert view.scaled == view.raw  # temperature 1 changes nothing
    nonzero = expected[expected > 0]
    assert view.entropy_bits == pytest.approx(-(nonzero * np.log2(nonzero)).sum(), abs=0.02)


def test_sampler_stages_narrow_and_renormalise(engine: EngineClient) -> None:
    s = SamplingSettings(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05)
    view = engine.next_token(PROMPT, s, top=50)
    names = [st.name for st in view.stages]
    assert names == ["raw", "penalties", "top-k", "top-p", "min-p", "temperature"]
    kept = [st.kept for st in view.stages]
    assert kept[0] > kept[2] == 40 >= kept[3] >= kept[4] >= 1
    final = view.stages[-1]
    assert len(final.top) == final.kept  # everything left is listed ...
    assert sum(c.prob for c in final.top) == pytest.approx(1.0, abs=1e-4)  # ... and sums to 1
    top_k_ids = {c.id for c in view.stages[2].top}
    assert {c.id for c in final.top} <= top_k_ids


def test_temperature_reshapes_the_whole_distribution(engine: EngineClient) -> None:
    cold = engine.next_token(PROMPT, SamplingSettings(temperature=0.5), top=5).scaled
    hot = engine.next_token(PROMPT, SamplingSettings(temperature=2.0), top=5).scaled
    base = engine.next_token(PROMPT, SamplingSettings(temperature=1.0), top=5).scaled
    assert cold[0].id == hot[0].id == base[0].id
    assert cold[0].prob > base[0].prob > hot[0].prob


def test_step_mode_reuses_the_prefix_and_matches_a_fresh_run(engine: EngineClient,
                                                             reference: Any) -> None:
    ids = reference.tokenize(PROMPT.encode(), add_bos=False, special=True)
    first = engine.next_token(ids, SamplingSettings(temperature=1.0), top=3)
    stepped = ids + [first.raw[0].id]
    after = engine.next_token(stepped, SamplingSettings(temperature=1.0), top=3)
    # The reference takes the same path: the prompt as one batch, then the new token alone.
    # (A single batch of all tokens differs by up to ~0.01 here: llama.cpp quantizes
    # activations per batch shape. A stale or misplaced KV cache would differ far more.)
    reference.reset()
    reference.eval(ids)
    reference.eval([first.raw[0].id])
    expected = softmax(np.array(reference.scores[len(ids)], dtype=np.float64))
    assert after.raw[0].id == int(expected.argmax())
    assert after.raw[0].prob == pytest.approx(expected.max(), abs=2e-3)
    fresh = softmax(reference_logits(reference, stepped)[-1])
    assert after.raw[0].prob == pytest.approx(fresh.max(), abs=0.02)
    forked = engine.next_token(ids + [first.raw[1].id], SamplingSettings(temperature=1.0), top=3)
    assert forked.raw[0].id != after.raw[0].id or forked.raw[0].prob != after.raw[0].prob


def test_perplexity_is_exp_of_mean_nll_from_the_logits(engine: EngineClient,
                                                       reference: Any) -> None:
    view = engine.surprise(TEXT, top=3)
    ids = reference.tokenize(TEXT.encode(), add_bos=False, special=False)
    logits = reference_logits(reference, ids)
    logprobs = [float(np.log(softmax(logits[i])[ids[i + 1]])) for i in range(len(ids) - 1)]
    assert [t.id for t in view.tokens] == ids[1:]
    for ours, theirs in zip(view.tokens, logprobs, strict=True):
        assert ours.logprob == pytest.approx(theirs, abs=0.02)
    assert view.perplexity == pytest.approx(math.exp(-np.mean(logprobs)), rel=0.01)
    berlin = view.tokens[-2]
    assert berlin.piece == " Berlin" and berlin.top[0].id == berlin.id  # the model expected it


def test_introspection_does_not_disturb_chat(engine: EngineClient) -> None:
    chat = [ChatMessage("user", "Name a colour.")]
    settings = SamplingSettings(seed=11, max_tokens=12)
    before = list(engine.generate(chat, settings))[-1].text
    engine.surprise(TEXT)
    engine.next_token(PROMPT)
    assert list(engine.generate(chat, settings))[-1].text == before


def test_bad_inspection_input_is_refused(engine: EngineClient) -> None:
    with pytest.raises(PromptError, match="empty"):
        engine.next_token("")
    with pytest.raises(PromptError, match="at least two tokens"):
        engine.surprise("Hi")
    with pytest.raises(PromptError, match="context holds"):
        engine.surprise("word " * 5000)
    assert engine.tokenize("") == []


def cli(*args: str) -> Any:
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", *args, "--json"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_inspect_cli_prints_the_documented_json(tmp_path: Path) -> None:
    tokens = cli("tokens", "naïve tokens")
    assert tokens and set(tokens[0]) == {"id", "piece", "bytes_hex"}
    nxt = cli("next", PROMPT, "--top", "4", "--temperature", "1")
    assert len(nxt) == 4 and set(nxt[0]) == {"id", "piece", "prob"}
    assert nxt[0]["piece"] == " Paris" and 0 < sum(c["prob"] for c in nxt) <= 1
    source = tmp_path / "text.txt"
    source.write_text(TEXT, encoding="utf-8")
    surprise = cli("surprise", str(source))
    assert surprise["perplexity"] > 1 and len(surprise["tokens"]) > 5
    assert set(surprise["tokens"][0]) == {"id", "piece", "logprob", "top"}


def test_continuation_equals_the_same_ids_given_whole(engine: EngineClient,
                                                      reference: Any) -> None:
    ids = reference.tokenize(PROMPT.encode(), add_bos=False, special=True)
    path = [engine.next_token(PROMPT, top=1).raw[0].id]
    by_path = engine.next_token(PROMPT, continuation=path, top=3)
    by_ids = engine.next_token(ids + path, top=3)
    assert by_path.prompt_tokens == len(ids) + 1
    assert [c.id for c in by_path.raw] == [c.id for c in by_ids.raw]


def test_render_prompt_shows_what_the_model_sees(engine: EngineClient) -> None:
    chat = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"),
            ChatMessage("assistant", "Hello!"), ChatMessage("user", "Bye")]
    text = engine.render_prompt(chat)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert text.endswith("<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n")
    pieces = engine.tokenize(text)
    assert sum(p.special for p in pieces) == 9  # 4 turns x (start, end) + the open assistant
    done = list(engine.generate(chat, SamplingSettings(seed=1, max_tokens=1)))[-1]
    assert done.stats.prompt_tokens == len(pieces)  # the same text the reply was computed from


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.models.bundled import comparison_base_model

    path = comparison_base_model(tmp_path_factory.mktemp("models"))
    assert path is not None, "make installs the Gemma 3 270M packages"
    return path


def test_two_tokenizers_side_by_side(engine: EngineClient, gemma: Path) -> None:
    import llama_cpp

    text = "Tokenizers differ: naïve café, 日本語, <b>HTML</b>"
    ours = engine.tokenize(text, special=False)
    theirs = engine.tokenize(text, special=False, model_path=str(gemma))
    reference = llama_cpp.Llama(str(gemma), vocab_only=True, verbose=False)
    try:
        expected = reference.tokenize(text.encode(), add_bos=False, special=False)
    finally:
        reference.close()
    assert [p.id for p in theirs] == expected
    assert [p.id for p in ours] != [p.id for p in theirs]
    for pieces in (ours, theirs):  # both reassemble the text byte for byte
        assert b"".join(bytes.fromhex(p.bytes_hex) for p in pieces) == text.encode()


def test_surprise_under_a_second_model(engine: EngineClient, gemma: Path) -> None:
    ours = engine.surprise(TEXT)
    theirs = engine.surprise(TEXT, model_path=str(gemma))
    assert theirs.perplexity > 1 and ours.perplexity > 1
    assert theirs.perplexity != ours.perplexity
    assert [t.id for t in theirs.tokens] != [t.id for t in ours.tokens]  # other vocabulary
    done = list(engine.generate([ChatMessage("user", "Hi")],
                                SamplingSettings(seed=1, max_tokens=3)))[-1]
    assert isinstance(done, DoneEvent)
    assert done.stats.completion_tokens == 3  # the chat model is untouched


def test_a_reply_is_measured_in_its_chat_context(engine: EngineClient) -> None:
    chat = [ChatMessage("user", "What is the capital of France?")]
    reply = "The capital of France is Paris."
    alone = engine.surprise(reply)
    in_context = engine.surprise(reply, context=chat)
    assert len(in_context.tokens) == len(alone.tokens) + 1  # the first token is scored too
    assert in_context.perplexity < alone.perplexity  # the question makes the answer expected
    prompt = engine.render_prompt(chat)
    # Read the prompt afresh, as surprise did: continuing from the KV cache surprise left
    # decodes the last prompt token alone, and a one-token batch rounds differently in the
    # quantized kernels (0.09 nats apart on an AMD EPYC without AVX-512; within 0.05 on others).
    engine.next_token("Something else entirely", SamplingSettings(temperature=1.0), top=1)
    first = engine.next_token(prompt, SamplingSettings(temperature=1.0), top=50)
    probs = {c.id: c.prob for c in first.raw}
    assert in_context.tokens[0].logprob == pytest.approx(
        math.log(probs[in_context.tokens[0].id]), abs=0.05)
