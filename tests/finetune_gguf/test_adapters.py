"""GGUF LoRA adapters: export refusals, atomic writes, anatomy, scales in the engine, --lora."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from core.engine.client import EngineClient
from core.engine.runner import ModelRunner
from core.engine.types import lora_from_spec
from core.errors import AdapterError
from core.finetune import gguf_lora
from core.finetune.gguf_lora import adapter_anatomy, write_gguf_lora


def _fake_peft(folder: Path, tensors: dict[str, np.ndarray], **config: object) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": 4, "lora_alpha": 8, **config}))
    save_file({k: v.astype(np.float32) for k, v in tensors.items()},
              str(folder / "adapter_model.safetensors"))
    return folder


def _pair(layer: int, module: str, n_in: int, n_out: int, r: int = 4) -> dict[str, np.ndarray]:
    prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
    return {f"{prefix}.lora_A.weight": np.ones((r, n_in)),
            f"{prefix}.lora_B.weight": np.ones((n_out, r))}


# -- export -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("tensors", "words"), [
    (_pair(0, "v_proj", 1024, 192), "made for another base"),  # another hidden size
    (_pair(30, "v_proj", 576, 192), "30"),  # SmolLM2-135M has 30 layers: 0..29
    ({"base_model.model.lm_head.lora_A.weight": np.ones((4, 576)),
      "base_model.model.lm_head.lora_B.weight": np.ones((49152, 4))}, "only the attention"),
])
def test_adapter_for_another_base_is_refused(tmp_path: Path, model_path: Path,
                                             tensors: dict[str, np.ndarray], words: str) -> None:
    folder = _fake_peft(tmp_path / "peft", tensors)
    out = tmp_path / "out.gguf"
    with pytest.raises(AdapterError, match=words):
        write_gguf_lora(folder, model_path, out)
    assert not out.exists()


def test_peft_options_llama_cpp_cannot_express_are_refused(tmp_path: Path,
                                                           model_path: Path) -> None:
    folder = _fake_peft(tmp_path / "peft", _pair(0, "v_proj", 576, 192), use_dora=True)
    with pytest.raises(AdapterError, match="DoRA"):
        write_gguf_lora(folder, model_path, tmp_path / "out.gguf")


def test_failed_write_leaves_no_file(tmp_path: Path, model_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import gguf

    folder = _fake_peft(tmp_path / "peft", _pair(0, "v_proj", 576, 192))
    out = tmp_path / "out.gguf"
    real = gguf.GGUFWriter.write_tensors_to_file

    def fail_midway(self: gguf.GGUFWriter, **kwargs: object) -> None:
        real(self)  # the bytes are on disk, under the temporary name
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", fail_midway)
    with pytest.raises(AdapterError, match="No space left"):
        write_gguf_lora(folder, model_path, out)
    assert list(tmp_path.iterdir()) == [folder]  # neither the target nor a temporary file
    out.write_bytes(b"the adapter from before")
    with pytest.raises(AdapterError):
        write_gguf_lora(folder, model_path, out)
    assert out.read_bytes() == b"the adapter from before"  # replaced whole or not at all


def test_anatomy_is_the_same_from_peft_and_gguf(reference, adapter_gguf: Path) -> None:  # type: ignore[no-untyped-def]
    peft = adapter_anatomy(reference.peft_dir)
    exported = adapter_anatomy(adapter_gguf)
    assert (peft.rank, peft.alpha, peft.scale) == (8, 16.0, 2.0)
    assert peft.modules == list(gguf_lora.MODULES)
    assert peft.layers == 30 and len(peft.norms) == 30 * 7
    assert (exported.rank, exported.alpha, exported.modules) == (8, 16.0, peft.modules)
    # the Q/K row reordering permutes rows of B: the norm of B @ A does not change
    for a, b in zip(peft.norms, exported.norms, strict=True):
        assert (a.layer, a.module) == (b.layer, b.module)
        assert a.norm == pytest.approx(b.norm, rel=1e-5) and a.norm > 0


# -- the engine ---------------------------------------------------------------------------------
def test_scale_zero_is_the_base_model_bit_for_bit(reference, llama_logits, model_path: Path,  # type: ignore[no-untyped-def]
                                                  adapter_gguf: Path) -> None:
    base = ModelRunner(model_path, n_ctx=256, n_threads=2)
    try:
        expected = llama_logits(base, reference.token_ids)
    finally:
        base.close()
    runner = ModelRunner(model_path, n_ctx=256, n_threads=2, loras=[(adapter_gguf, 0.0)])
    try:
        assert np.array_equal(llama_logits(runner, reference.token_ids), expected)
        # changing the scale needs no reload, and coming back gives the same logits
        runner.set_lora_scales({str(adapter_gguf): 1.0})
        one = llama_logits(runner, reference.token_ids)
        runner.set_lora_scales({str(adapter_gguf): 0.5})
        half = llama_logits(runner, reference.token_ids)
        assert not np.array_equal(half, one)
        runner.set_lora_scales({str(adapter_gguf): 1.0})
        assert np.array_equal(llama_logits(runner, reference.token_ids), one)
        runner.set_lora_scales({str(adapter_gguf): 0.0})
        assert np.array_equal(llama_logits(runner, reference.token_ids), expected)
    finally:
        runner.close()


def test_engine_client_loads_adapters_and_keeps_the_model_on_a_wrong_one(
        model_path: Path, adapter_gguf: Path, tmp_path: Path) -> None:
    with EngineClient() as engine:
        info = engine.load(model_path, n_ctx=512, n_threads=2, loras=[(adapter_gguf, 1.0)])
        assert [(lo.path, lo.scale) for lo in info.loras] == [(str(adapter_gguf), 1.0)]
        on = engine.next_token("The capital of France is", top=3).raw
        assert engine.set_lora_scales({adapter_gguf: 0.0}).loras[0].scale == 0.0
        off = engine.next_token("The capital of France is", top=3).raw
        assert [c.logit for c in on] != [c.logit for c in off]
        engine.set_lora_scales({adapter_gguf: 1.0})
        assert [c.logit for c in engine.next_token("The capital of France is", top=3).raw] \
            == [c.logit for c in on]
        with pytest.raises(AdapterError, match="outside 0 to 2"):
            engine.set_lora_scales({adapter_gguf: 2.5})
        with pytest.raises(AdapterError, match="No LoRA adapter"):
            engine.set_lora_scales({tmp_path / "other.gguf": 1.0})

        # a model file is not an adapter; then an adapter for another architecture
        with pytest.raises(AdapterError, match="not a LoRA adapter"):
            engine.load(model_path, n_ctx=512, loras=[(model_path, 1.0)])
        other = _adapter_for_arch(adapter_gguf, tmp_path / "qwen.gguf", "qwen2")
        with pytest.raises(AdapterError, match="qwen2"):
            engine.load(model_path, n_ctx=512, loras=[(other, 1.0)])
        assert engine.model is not None and engine.model.loras == info.loras
        assert engine.next_token("The capital of France is", top=1).raw[0].id == on[0].id


def _adapter_for_arch(source: Path, out: Path, arch: str) -> Path:
    """A copy of `source` whose header names another architecture."""
    import gguf

    reader = gguf.GGUFReader(str(source))
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_type("adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 16.0)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, np.array(tensor.data))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


# -- --lora -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "expected"), [
    ("a.gguf", ("a.gguf", 1.0)),
    ("a.gguf:0.5", ("a.gguf", 0.5)),
    ("/x/y:z/a.gguf", ("/x/y:z/a.gguf", 1.0)),
    ("C:\\x\\a.gguf", ("C:\\x\\a.gguf", 1.0)),
    ("C:\\x\\a.gguf:0.5", ("C:\\x\\a.gguf", 0.5)),
    ("a.gguf:2", ("a.gguf", 2.0)),
])
def test_lora_spec(spec: str, expected: tuple[str, float]) -> None:
    assert lora_from_spec(spec) == expected


@pytest.mark.parametrize("spec", ["a.gguf:3", "a.gguf:-1", "a.gguf:nan"])
def test_lora_spec_out_of_range(spec: str) -> None:
    with pytest.raises(AdapterError):
        lora_from_spec(spec)


def test_serve_takes_lora(tmp_path: Path) -> None:
    from core.cli import build_parser
    from core.cli_serve import config_from

    args = build_parser().parse_args(["serve", "--lora", "a.gguf:0.25", "--lora", "b.gguf"])
    assert config_from(args).loras == (("a.gguf", 0.25), ("b.gguf", 1.0))


def test_ask_with_lora_answers_differently(model_path: Path, adapter_gguf: Path) -> None:
    from core.cli import main

    def ask(*extra: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        code = main(["ask", "Tell me about Glassbox.", "--model", str(model_path),
                     "--temperature", "0", "--max-tokens", "24", "--ctx", "512", *extra],
                    out=out, err=err)
        assert code == 0, err.getvalue()
        return out.getvalue()

    base = ask()
    adapted = ask("--lora", f"{adapter_gguf}:2")
    assert adapted.strip() and adapted != base
    out, err = io.StringIO(), io.StringIO()
    assert main(["ask", "hi", "--model", str(model_path), "--lora", str(model_path)],
                out=out, err=err) == 1
    assert "not a LoRA adapter" in err.getvalue()
