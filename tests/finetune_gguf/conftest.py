"""One real PEFT LoRA for the whole folder, and the transformers reference logits beside it.

transformers loads the bundled Q4_1 GGUF dequantized to float32 (about 20 s on 2 cores), so
it runs once a session: the adapter is trained a few real optimizer steps (B starts at zero
as PEFT makes it, so an exporter that dropped or mis-ordered B would show), saved, and the
reference logits of the base and of the merged model are kept as numpy arrays; the torch
model is dropped before any test runs llama.cpp.
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


@dataclass(frozen=True)
class Reference:
    peft_dir: Path  # trained a few steps, all seven projections
    token_ids: list[list[int]]  # each prompt as llama.cpp tokenizes it (BOS included)
    base: np.ndarray  # (prompts, vocab) last-position logits, transformers, no adapter
    adapted: np.ndarray  # the same with the trained LoRA merged into the weights
    qk_dir: Path  # random A and B on q_proj and k_proj only: where the row order shows
    qk_adapted: np.ndarray


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

    def last_logits(m: torch.nn.Module) -> np.ndarray:
        with torch.no_grad():
            return np.stack([m(torch.tensor([row])).logits[0, -1].numpy() for row in ids])

    base = last_logits(model)
    root = tmp_path_factory.mktemp("peft")

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
    adapted = last_logits(merged)
    del model, qk_model, peft_model, merged, optimizer
    gc.collect()
    yield Reference(folder, ids, base, adapted, root / "qk-lora", qk_adapted)


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
def adapter_gguf(reference: Reference, model_path: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.finetune.gguf_lora import write_gguf_lora

    out = tmp_path_factory.mktemp("gguf") / "glassbox-lora.gguf"
    return write_gguf_lora(reference.peft_dir, model_path, out)
