"""The comparison runner on the real model: variants stream in turn, each with its figures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engine.client import EngineClient
from core.engine.types import SamplingSettings
from core.errors import PromptError
from core.prompts.compare import (
    Variant,
    VariantDone,
    VariantFailed,
    VariantStarted,
    VariantToken,
    run_comparison,
)
from core.prompts.presets import Example, Preset
from core.store import ChatStore
from core.store.comparisons import VariantResult

FAST = SamplingSettings(seed=3, max_tokens=10)
FEW_SHOT = Preset("Sentiment", "few-shot", "", "Label the sentiment in one word.",
                  (Example("I love it.", "positive"), Example("It broke.", "negative")))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "chats.sqlite3")
    yield s
    s.close()


def test_three_variants_stream_in_turn_with_their_own_figures(engine: EngineClient) -> None:
    variants = [Variant("Plain", sampling=FAST),
                Variant.from_preset(FEW_SHOT, sampling=FAST),
                Variant("Hot", sampling=SamplingSettings(temperature=1.5, seed=3, max_tokens=10))]
    events = list(run_comparison(engine, "The food was cold.", variants))
    order = [e.index for e in events if isinstance(e, VariantStarted)]
    assert order == [0, 1, 2]
    done = {e.index: e for e in events if isinstance(e, VariantDone)}
    assert sorted(done) == [0, 1, 2]
    for index, result in done.items():
        streamed = "".join(e.text for e in events
                           if isinstance(e, VariantToken) and e.index == index)
        assert streamed == result.text != ""
        assert result.stats.completion_tokens > 0
        # A rate needs two tokens: a one-word label (the few-shot one) has none.
        assert result.stats.tokens_per_s > 0 or result.stats.completion_tokens == 1
    # The few-shot turns are in the prompt: it is longer than the plain one.
    assert done[1].stats.prompt_tokens > done[0].stats.prompt_tokens + 10
    assert done[2].stats.prompt_tokens == done[0].stats.prompt_tokens


@pytest.mark.parametrize("prompt, count, message", [
    ("hi", 1, "2 to 4 variants; 1 were given"),
    ("hi", 5, "2 to 4 variants; 5 were given"),
    ("   ", 2, "empty"),
])
def test_bad_requests_are_refused(engine: EngineClient, prompt: str, count: int,
                                  message: str) -> None:
    with pytest.raises(PromptError, match=message):
        list(run_comparison(engine, prompt, [Variant(str(i)) for i in range(count)]))


def test_stopping_ends_after_the_current_variant(engine: EngineClient) -> None:
    finished: list[int] = []
    for event in run_comparison(engine, "Hello", [Variant("a", sampling=FAST)] * 3,
                                should_stop=lambda: bool(finished)):
        if isinstance(event, VariantDone):
            finished.append(event.index)
    assert finished == [0]


def test_another_model_runs_its_variant_and_the_first_comes_back(
        own_engine: EngineClient, model_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "second-model.gguf"
    shutil.copyfile(model_path, copy)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    original = own_engine.model
    assert original is not None
    events = list(run_comparison(own_engine, "Hi", [
        Variant("chat model", sampling=FAST),
        Variant("copy", sampling=FAST, model_path=str(copy)),
        Variant("broken", sampling=FAST, model_path=str(broken)),
    ]))
    started = [e for e in events if isinstance(e, VariantStarted)]
    assert [e.index for e in started] == [0, 1]
    assert started[0].model_name == original.name
    assert started[1].model_name == "second-model"  # the copy was loaded for its variant
    failed = [e for e in events if isinstance(e, VariantFailed)]
    assert [f.index for f in failed] == [2] and "broken.gguf" in failed[0].message
    assert own_engine.model is not None and own_engine.model.path == original.path


def test_a_comparison_is_saved_and_reopened(engine: EngineClient, store: ChatStore) -> None:
    variants = [Variant("Plain", sampling=FAST), Variant.from_preset(FEW_SHOT, sampling=FAST)]
    outputs: dict[int, VariantDone] = {}
    for event in run_comparison(engine, "Great phone.", variants):
        if isinstance(event, VariantDone):
            outputs[event.index] = event
    saved = store.comparisons.save("Great phone.", [
        VariantResult(v, outputs[i].text, "complete",
                      {"completion_tokens": outputs[i].stats.completion_tokens})
        for i, v in enumerate(variants)])
    reopened = store.comparisons.get(saved.id)
    assert reopened.title == "Great phone." and reopened.prompt == "Great phone."
    assert [r.variant for r in reopened.results] == variants
    assert [r.output for r in reopened.results] == [outputs[0].text, outputs[1].text]
    assert [c.id for c in store.comparisons.list()] == [saved.id]
    store.comparisons.delete(saved.id)
    assert store.comparisons.list() == []

