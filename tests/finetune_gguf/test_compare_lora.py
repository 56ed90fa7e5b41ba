"""A comparison column with a LoRA adapter: the base and its fine-tune side by side."""

from __future__ import annotations

import io
from pathlib import Path

from core.engine.client import EngineClient
from core.engine.types import SamplingSettings
from core.prompts.compare import Variant, VariantDone, run_comparison

GREEDY = SamplingSettings(temperature=0.0, seed=1, max_tokens=16)


def test_variant_loras_round_trip_and_old_variants_load() -> None:
    variant = Variant("tuned", sampling=GREEDY, loras=(("/a/adapter.gguf", 2.0),))
    assert Variant.from_json(variant.to_json()) == variant
    old = variant.to_json()
    del old["loras"]  # saved before adapters existed
    assert Variant.from_json(old).loras == ()


def test_base_and_adapter_columns_differ_and_the_model_comes_back(
        own_engine: EngineClient, adapter_gguf: Path) -> None:
    original = own_engine.model
    assert original is not None and not original.loras
    events = list(run_comparison(own_engine, "Tell me about Glassbox.", [
        Variant("base", sampling=GREEDY),
        Variant("tuned", sampling=GREEDY, loras=((str(adapter_gguf), 2.0),)),
        Variant("base again", sampling=GREEDY),
    ]))
    texts = [e.text for e in events if isinstance(e, VariantDone)]
    assert len(texts) == 3 and all(t.strip() for t in texts)
    assert texts[1] != texts[0]  # the adapter changed the answer
    assert texts[2] == texts[0]  # and the base came back without it
    assert own_engine.model is not None and own_engine.model.path == original.path
    assert not own_engine.model.loras


def test_the_original_adapters_are_put_back(own_engine: EngineClient, model_path: Path,
                                            adapter_gguf: Path) -> None:
    own_engine.load(model_path, n_ctx=1024, loras=[(adapter_gguf, 0.5)])
    list(run_comparison(own_engine, "Hi", [
        Variant("as loaded", sampling=GREEDY),
        Variant("stronger", sampling=GREEDY, loras=((str(adapter_gguf), 2.0),)),
    ]))
    assert own_engine.model is not None
    assert [(lo.path, lo.scale) for lo in own_engine.model.loras] == [(str(adapter_gguf), 0.5)]


def test_cli_also_lora(model_path: Path, adapter_gguf: Path) -> None:
    from core.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["compare", "Tell me about Glassbox.", "--plain", "--model", str(model_path),
                 "--also-lora", f"{adapter_gguf}:2", "--temperature", "0", "--max-tokens",
                 "12", "--no-save"], out=out, err=err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "== Plain (" in text and f"== Plain · {adapter_gguf.stem} ×2 (" in text
