"""The steering lab through the engine child, as the window and the CLI use it: what it makes
of awkward input, and that plain chat is untouched by it. Model facts (layers, width) are read
from the GGUF file, never written here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from steering_pairs import starter_pairs

from core.engine.client import EngineClient
from core.engine.steering_types import SteeringDirection, SteeringPair
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.errors import SteeringError
from core.gguf.reader import read_header

GREEDY = SamplingSettings(temperature=0.0, seed=1, max_tokens=12, repeat_penalty=1.0)
QUESTION = [ChatMessage("user", "Describe your morning in one sentence.")]


def _shape(model_path: Path) -> tuple[str, int, int]:
    meta = read_header(model_path).metadata
    arch = str(meta["general.architecture"])
    return arch, int(meta[f"{arch}.block_count"]), int(meta[f"{arch}.embedding_length"])


def _reply(engine: EngineClient) -> str:
    done = [e for e in engine.generate(QUESTION, GREEDY) if isinstance(e, DoneEvent)]
    return done[0].text


@pytest.fixture(scope="module")
def direction(engine: EngineClient) -> SteeringDirection:

    seen: list[tuple[int, int]] = []
    built = engine.build_steering(starter_pairs("positive_negative", 3),
                                  progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3, 3)
    return built


def test_direction_has_a_score_per_layer(direction: SteeringDirection, model_path: Path) -> None:
    arch, n_layer, n_embd = _shape(model_path)
    assert (direction.architecture, direction.n_layer, direction.n_embd) == (arch, n_layer,
                                                                             n_embd)
    assert len(direction.separation) == n_layer
    assert all(s.accuracy is not None and 0.0 <= s.accuracy <= 1.0
               for s in direction.separation)
    norms = np.linalg.norm(np.array(direction.vectors), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)
    assert 1 <= direction.best_layer < n_layer


def test_one_pair_builds_but_has_no_score(engine: EngineClient) -> None:
    one = engine.build_steering([SteeringPair("I adore rainy days.", "I loathe rainy days.")])
    assert one.n_pairs == 1
    assert all(s.accuracy is None and s.effect is None for s in one.separation)
    assert "One pair" in one.note and "cannot be scored" in one.note


def test_pairs_of_very_different_lengths(engine: EngineClient) -> None:
    long = ("What a wonderful, bright and generous morning this has been, full of kind "
            "people, good coffee, warm sunshine and the best news I have had all year.")
    built = engine.build_steering([SteeringPair(long, "Awful."),
                                   SteeringPair("Lovely.", "What a grim, cold and miserable "
                                                "morning, full of rude people and bad news.")])
    assert "very different lengths" in built.note
    assert all(np.isfinite(built.vectors[layer]).all() for layer in range(built.n_layer))


def test_layer_range_outside_the_model(engine: EngineClient, direction: SteeringDirection,
                                       model_path: Path) -> None:
    _, n_layer, _ = _shape(model_path)
    with pytest.raises(SteeringError, match=f"it has {n_layer} layers"):
        engine.steer(direction, "Hello", layers=(1, n_layer), strengths=(1.0,), max_tokens=2)
    with pytest.raises(SteeringError, match="steers\\s+layers 1 to"):
        engine.steer(direction, "Hello", layers=(0, 3), strengths=(1.0,), max_tokens=2)


def test_strength_outside_the_slider(engine: EngineClient, direction: SteeringDirection) -> None:
    with pytest.raises(SteeringError, match="outside -2 to 2"):
        engine.steer(direction, "Hello", strengths=(5.0,), max_tokens=2)


def test_steering_changes_replies_and_leaves_chat_alone(engine: EngineClient,
                                                        direction: SteeringDirection,
                                                        model_path: Path) -> None:
    before = _reply(engine)
    _, n_layer, _ = _shape(model_path)
    run = engine.steer(direction, "Tell me about your weekend.", strengths=(0.0, 2.0),
                       max_tokens=8)
    plain, pushed = run.replies
    assert plain.text != pushed.text
    assert all(t.shift == 0.0 for t in plain.top)  # strength 0 is the baseline itself
    assert any(abs(t.shift) > 0.01 for t in pushed.top)
    assert len(pushed.projection) == len(pushed.tokens)
    assert len(run.prompt_projection) == len(run.prompt_tokens)
    assert run.layers[0] >= 1 and run.layers[1] < n_layer
    assert _reply(engine) == before  # the control vector came off, the cache was dropped


def test_a_strength_that_breaks_the_model_is_flagged(engine: EngineClient,
                                                     direction: SteeringDirection,
                                                     model_path: Path) -> None:
    _, n_layer, _ = _shape(model_path)
    run = engine.steer(direction, "Tell me about your weekend.", layers=(1, n_layer - 1),
                       strengths=(0.0, -2.0), max_tokens=16)
    plain, broken = run.replies
    assert plain.degenerate == ""
    assert broken.degenerate != "", broken.text


def _write_llama_cpp_style(path: Path, hint: str, n_layer: int, n_embd: int,
                           seed: int = 0) -> Path:
    """A control vector as cvector-generator writes one: unit directions 1..n_layer-1."""
    import gguf

    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", hint)
    writer.add_int32("controlvector.layer_count", n_layer - 1)
    for layer in range(1, n_layer):
        v = rng.standard_normal(n_embd).astype(np.float32)
        writer.add_tensor(f"direction.{layer}", v / np.linalg.norm(v))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_vectors_for_another_model_are_refused(engine: EngineClient, model_path: Path,
                                               tmp_path: Path) -> None:
    arch, n_layer, n_embd = _shape(model_path)
    wide = _write_llama_cpp_style(tmp_path / "wide.gguf", arch, n_layer, n_embd * 2)
    with pytest.raises(SteeringError, match=f"{n_embd * 2}-wide.*{n_embd}-wide"):
        engine.set_control_vector(wide, 1.0)
    other = _write_llama_cpp_style(tmp_path / "other.gguf", "gemma3", n_layer, n_embd)
    with pytest.raises(SteeringError, match="made for a 'gemma3' model"):
        engine.set_control_vector(other, 1.0)
    deep = _write_llama_cpp_style(tmp_path / "deep.gguf", arch, n_layer + 8, n_embd)
    with pytest.raises(SteeringError, match=f"has {n_layer}"):
        engine.set_control_vector(deep, 1.0)
    assert engine.model is not None and engine.model.control_vector is None


def test_llama_cpp_made_vector_steers_chat_until_removed(engine: EngineClient, model_path: Path,
                                                         tmp_path: Path) -> None:
    arch, n_layer, n_embd = _shape(model_path)
    before = _reply(engine)
    path = _write_llama_cpp_style(tmp_path / "made-by-llama.gguf", arch, n_layer, n_embd)
    info = engine.set_control_vector(path, 40.0, (4, 12))
    try:
        assert info.control_vector == (str(path.resolve()), 40.0, (4, 12))
        assert _reply(engine) != before
    finally:
        engine.set_control_vector(None)
    assert engine.model is not None and engine.model.control_vector is None
    assert _reply(engine) == before


def test_compare_variant_with_a_control_vector(engine: EngineClient, model_path: Path,
                                               tmp_path: Path) -> None:
    from core.prompts.compare import Variant, VariantDone, run_comparison

    arch, n_layer, n_embd = _shape(model_path)
    path = _write_llama_cpp_style(tmp_path / "steer.gguf", arch, n_layer, n_embd, seed=3)
    sampling = SamplingSettings(temperature=0.0, seed=1, max_tokens=8, repeat_penalty=1.0)
    variants = [Variant("plain", sampling=sampling),
                Variant("steered", sampling=sampling, control_vector=(str(path), 30.0))]
    assert Variant.from_json(variants[1].to_json()) == variants[1]
    done = [e for e in run_comparison(engine, "Name a colour.", variants)
            if isinstance(e, VariantDone)]
    assert [d.index for d in done] == [0, 1]
    assert done[0].text != done[1].text
    assert engine.model is not None and engine.model.control_vector is None
