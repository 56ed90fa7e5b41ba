"""The tiny transformer learns: its held-out loss falls well below what token frequencies
alone can reach, its samples change from noise, and bad input is refused with the reason."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from core.errors import FoundationsError
from core.foundations.tiny_events import (
    AttentionMaps,
    Embeddings,
    Finished,
    HeldOut,
    Paused,
    Sample,
    Started,
    Step,
)
from core.foundations.tiny_model import TinyConfig, memory_estimate_bytes
from core.foundations.tiny_train import train

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_gpt_text import grammar_text  # noqa: E402

SMALL = TinyConfig(layers=1, heads=2, width=64, context=32, batch_size=16, steps=150,
                   eval_every=50, sample_every=150, learning_rate=3e-3)


@pytest.fixture(scope="module")
def run(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    folder = tmp_path_factory.mktemp("tiny")
    return list(train(SMALL, grammar_text(), model_path, folder))


def test_held_out_loss_falls_well_below_the_unigram_entropy(run: list[object]) -> None:
    started = next(e for e in run if isinstance(e, Started))
    held = [e for e in run if isinstance(e, HeldOut)]
    assert held[0].step == 0 and held[-1].step == SMALL.steps
    # at step 0 the model spreads its guess over the whole vocabulary of the chat model:
    # the loss is log(49,152) give or take, which checks the shared "unseen" row's maths
    assert abs(held[0].loss - math.log(started.full_vocab)) < 0.5
    # "well below": less than half the entropy of the held-out tokens' own frequencies, the
    # best any predictor that ignores context could do
    assert started.unigram_entropy > 2.0
    assert held[-1].loss < 0.5 * started.unigram_entropy
    assert isinstance(run[-1], Finished) and run[-1].ok


def test_samples_change_from_noise_to_the_texts_words(run: list[object]) -> None:
    samples = [e for e in run if isinstance(e, Sample)]
    assert [s.step for s in samples] == [0, SMALL.steps]
    first, last = samples[0].text, samples[-1].text
    assert first != last
    words = set(grammar_text().lower().replace(".", " ").split())
    def share(text: str) -> float:
        tokens = text.lower().replace(".", " ").split()
        return sum(t in words for t in tokens) / max(len(tokens), 1)
    assert share(last) > 0.8 > share(first) + 0.3


def test_every_view_gets_its_data(run: list[object]) -> None:
    steps = [e for e in run if isinstance(e, Step)]
    assert [s.step for s in steps] == list(range(1, SMALL.steps + 1))
    assert all(s.tokens_per_s > 0 for s in steps)
    maps = [e for e in run if isinstance(e, AttentionMaps)]
    m = maps[-1].maps
    assert m.shape == (SMALL.layers, SMALL.heads, len(maps[-1].tokens), len(maps[-1].tokens))
    np.testing.assert_allclose(m.sum(-1), 1.0, atol=1e-5)  # each row a distribution
    assert np.allclose(np.triu(m[0, 0], 1), 0.0)  # nothing from the future
    emb = [e for e in run if isinstance(e, Embeddings)][-1]
    started = next(e for e in run if isinstance(e, Started))
    assert emb.xy.shape == (started.vocab_rows - 1, 2) == (len(emb.pieces), 2)


def test_pause_cancel_and_resume_from_the_checkpoint(model_path: Path, tmp_path: Path) -> None:
    config = TinyConfig(layers=1, heads=2, width=64, context=16, batch_size=4, steps=40,
                        eval_every=10, sample_every=40)
    pause, cancel = threading.Event(), threading.Event()
    seen: list[object] = []
    for event in train(config, grammar_text(60), model_path, tmp_path, pause=pause,
                       cancel=cancel):
        seen.append(event)
        if isinstance(event, Step) and event.step == 5:
            pause.set()
        if isinstance(event, Paused):
            cancel.set()  # a cancel while paused ends the run, checkpoint kept
    paused = next(e for e in seen if isinstance(e, Paused))
    end = seen[-1]
    assert isinstance(end, Finished) and end.status == "cancelled" and end.step == 5
    assert paused.step == 5 and Path(paused.checkpoint).is_file()
    resumed = list(train(config, grammar_text(60), model_path, tmp_path, resume=True))
    assert next(e for e in resumed if isinstance(e, Started)).start_step == 5
    assert [e.step for e in resumed if isinstance(e, Step)][0] == 6
    assert isinstance(resumed[-1], Finished) and resumed[-1].ok and resumed[-1].step == 40


def test_empty_text_is_refused(model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(FoundationsError, match="empty"):
        next(train(SMALL, "  \n ", model_path, tmp_path))


def test_text_shorter_than_one_batch_is_refused_with_the_numbers(model_path: Path,
                                                                 tmp_path: Path) -> None:
    with pytest.raises(FoundationsError, match=r"tokens long; training needs at least \d+"):
        next(train(SMALL, "A cat sees the ball. A dog likes the river.", model_path,
                   tmp_path))
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_diverging_learning_rate_stops_with_an_explanation(model_path: Path,
                                                              tmp_path: Path) -> None:
    config = TinyConfig(layers=1, heads=2, width=64, context=16, batch_size=8, steps=60,
                        eval_every=100, sample_every=100, learning_rate=50.0)
    events = list(train(config, grammar_text(100), model_path, tmp_path))
    end = events[-1]
    assert isinstance(end, Finished) and end.status == "diverged"
    assert "learning rate 50 is too high" in end.message and "Try about 5" in end.message
    last = [e for e in events if isinstance(e, Step)][-1]
    assert not math.isfinite(last.train_loss) or last.train_loss > 20  # shown, not hidden


def test_a_model_too_big_for_memory_is_refused_with_the_estimate(model_path: Path,
                                                                 tmp_path: Path) -> None:
    huge = TinyConfig(layers=48, heads=32, width=16384, context=64, batch_size=64)
    need = memory_estimate_bytes(huge, 31)  # the grammar text uses 30 tokens (+1 unseen)
    with pytest.raises(FoundationsError, match=rf"about {need / 1e9:.1f} GB to train"):
        next(train(huge, grammar_text(), model_path, tmp_path))


@pytest.mark.parametrize("bad", [dict(width=100, heads=3), dict(width=66, heads=6),
                                 dict(learning_rate=float("nan")), dict(layers=0)])
def test_impossible_shapes_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(FoundationsError, match="Cannot build this tiny model"):
        TinyConfig(**bad).validate()  # type: ignore[arg-type]
