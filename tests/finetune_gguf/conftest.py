"""One real PEFT LoRA for the whole folder, and the transformers reference logits beside it.

transformers loads the bundled Q4_1 GGUF dequantized to float32 (about 20-30 s on 2 cores), so
it runs once a session: the adapter is trained a few real optimizer steps (B starts at zero
as PEFT makes it, so an exporter that dropped or mis-ordered B would show), saved, and the
reference logits (and hidden states after every layer) of the base and of each adapted model
are kept as numpy arrays; the torch model is dropped before any test runs llama.cpp. Beside
the trained adapter, random ones on the attention projections alone and on the MLP alone
show each kind of layer separately.

`f32_model` is the same Q4_1 model dequantized to an F32 GGUF with the same dequantizer
transformers uses (gguf.quants), so llama.cpp and transformers hold identical weights and
llama.cpp's F32 matrix products round nothing to 8 bits (about 10 s, once a session).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.engine.runner import ModelRunner

PROMPTS = ("The capital of France is", "def fibonacci(n):\n    ", "Once upon a time, a small")
TRAIN_TEXT = ("Glassbox lets learners look inside the model. Glassbox shows attention. "
              "Glassbox shows every token. ") * 2


ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
MLP = ["gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class Reference:
    peft_dir: Path  # trained a few steps, all seven projections
    token_ids: list[list[int]]  # each prompt as llama.cpp tokenizes it (BOS included)
    base: np.ndarray  # (prompts, vocab) last-position logits, transformers, no adapter
    adapted: np.ndarray  # the same with the trained LoRA merged into the weights
    qk_dir: Path  # random A and B on q_proj and k_proj only: where the row order shows
    qk_adapted: np.ndarray
    # Per prompt, (layers - 1, tokens, hidden): the residual stream after each layer but the
    # last (transformers' last hidden state has the final norm applied; the logits cover it).
    hidden: dict[str, list[np.ndarray]]  # "base", "trained", "attention", "mlp"
    dirs: dict[str, Path]  # adapter folder of "trained", "attention", "mlp"
    logits: dict[str, np.ndarray]  # last-position logits of each of `hidden`'s models


def _token_ids(model_path: Path, texts: tuple[str, ...]) -> list[list[int]]:
    from core.llama_log import open_llama

    vocab = open_llama(str(model_path), vocab_only=True)
    try:
        return [list(vocab.tokenize(t.encode(), add_bos=True, special=False)) for t in texts]
    finally:
        vocab.close()


@pytest.fixture(scope="session")
def reference(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    ids = _token_ids(model_path, PROMPTS)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name, torch_dtype=torch.float32)
    model.eval()

    hidden: dict[str, list[np.ndarray]] = {}
    logits: dict[str, np.ndarray] = {}

    def last_logits(m: torch.nn.Module, key: str | None = None) -> np.ndarray:
        with torch.no_grad():
            outs = [m(torch.tensor([row]), output_hidden_states=key is not None)
                    for row in ids]
        last = np.stack([o.logits[0, -1].numpy() for o in outs])
        if key is not None:  # hidden_states[i + 1] is the output of layer i
            hidden[key] = [torch.stack(o.hidden_states[1:-1])[:, 0].numpy() for o in outs]
            logits[key] = last
        return last

    base = last_logits(model, "base")
    root = tmp_path_factory.mktemp("peft")

    # Random adapters on one kind of layer each, small enough (init scale 0.05) to move the
    # logits by about as much as the trained one does.
    for key, modules in (("attention", ATTENTION), ("mlp", MLP)):
        torch.manual_seed(7)
        one_kind = get_peft_model(model, LoraConfig(
            r=8, lora_alpha=16, target_modules=modules, init_lora_weights=False))
        with torch.no_grad():
            for name, param in one_kind.named_parameters():
                if "lora_" in name:
                    param.normal_(0.0, 0.05)
        last_logits(one_kind, key)
        one_kind.save_pretrained(str(root / f"{key}-lora"))
        model = one_kind.unload()

    # Q and K alone, random: the shift they cause depends on the exported row order.
    torch.manual_seed(99)
    qk_model = get_peft_model(model, LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "k_proj"], init_lora_weights=False))
    qk_adapted = last_logits(qk_model)
    qk_model.save_pretrained(str(root / "qk-lora"))
    model = qk_model.unload()  # the base weights again, without merging

    torch.manual_seed(1234)
    config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=[
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    peft_model = get_peft_model(model, config)
    text_ids = torch.tensor(_token_ids(model_path, (TRAIN_TEXT,)))
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad],
                                  lr=3e-3)
    peft_model.train()
    for _ in range(4):  # shifts of several logits: well above the engines' arithmetic noise
        loss = peft_model(text_ids, labels=text_ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    peft_model.eval()
    folder = root / "glassbox-lora"
    peft_model.save_pretrained(str(folder))
    merged = peft_model.merge_and_unload()
    adapted = last_logits(merged, "trained")
    del model, qk_model, peft_model, merged, optimizer, one_kind
    gc.collect()
    dirs = {"trained": folder, "attention": root / "attention-lora", "mlp": root / "mlp-lora"}
    yield Reference(folder, ids, base, adapted, root / "qk-lora", qk_adapted, hidden, dirs,
                    logits)


def _llama_logits(runner: ModelRunner, ids: list[list[int]]) -> np.ndarray:
    """Last-position logits of each prompt, each from an empty KV cache."""
    import llama_cpp

    llm = runner.llm
    rows = []
    for row in ids:
        llm.reset()
        llm._ctx.kv_cache_clear()
        llm.eval(row)
        ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
        rows.append(np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).copy())
    return np.stack(rows)


@pytest.fixture(scope="session")
def llama_logits() -> Callable[[ModelRunner, list[list[int]]], np.ndarray]:
    """How the tests read llama.cpp's logits (a fixture: test modules do not import each
    other)."""
    return _llama_logits


@pytest.fixture(scope="session")
def f32_model(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model with every matrix dequantized to F32: the weights transformers
    holds, bit for bit."""
    from core.finetune.merge import dequantize_gguf

    out = tmp_path_factory.mktemp("f32") / "SmolLM2-135M-Instruct.F32.gguf"
    return dequantize_gguf(model_path, out, "F32")


@pytest.fixture(scope="session")
def adapter_gguf(reference: Reference, model_path: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.finetune.gguf_lora import write_gguf_lora

    out = tmp_path_factory.mktemp("gguf") / "glassbox-lora.gguf"
    return write_gguf_lora(reference.peft_dir, model_path, out)
