"""Model internals read out of llama.cpp, checked against an independent implementation:
Hugging Face transformers running the same GGUF (dequantized, eager attention).

LLAMA_INTERNALS.md measured llama.cpp against it at a mean absolute difference under 0.0025 per
layer on 10 tokens; the rest comes from llama.cpp quantizing activations in its matmuls.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core import cli_inspect
from core.cli import build_parser
from core.engine.client import EngineClient
from core.engine.types import ChatMessage

TEXT = "The capital of France is Paris. The capital of Germany is"
QUESTION = [ChatMessage("user", "What is the capital of France?")]
REPLY = "The capital of France is Paris."
MAD_LIMIT = 0.005
# Filled by the tests, printed at the end of the module: the figures the report quotes.
FIGURES: dict[str, Any] = {}


@pytest.fixture(scope="module")
def hf(model_path: Path) -> Any:
    """The reference model, loaded once for the module (about 15-30 s on 2 busy cores)."""
    pytest.importorskip("accelerate")
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name, attn_implementation="eager",
        dtype=torch.float32)
    model.eval()
    yield model
    print("\ncapture figures:", json.dumps(FIGURES))


def hf_run(model: Any, ids: list[int]) -> Any:
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids]), output_attentions=True, output_hidden_states=True)


def layer_mads(ours: np.ndarray, reference: Any, rows: slice = slice(None)) -> list[float]:
    return [float(np.abs(ours[i] - ref[0].numpy()[:, rows]).mean())
            for i, ref in enumerate(reference.attentions)]


def test_attention_matches_transformers(engine: EngineClient, hf: Any) -> None:
    view = engine.attention(TEXT)
    ids = [t.id for t in view.tokens]
    n = len(ids)
    assert view.attention.dtype == np.float32
    assert view.attention.shape == (30, 9, n, n) and view.layers == list(range(30))
    # Probabilities over real keys only: rows sum to 1, the causal mask is zeros.
    np.testing.assert_allclose(view.attention.sum(axis=-1), 1.0, atol=2e-3)
    assert np.triu(view.attention, k=1).max() == 0.0
    reference = hf_run(hf, ids)
    mads = layer_mads(view.attention, reference)
    FIGURES["attention_tokens"] = n
    FIGURES["attention_mad_max"] = max(mads)
    assert max(mads) < MAD_LIMIT, f"per-layer MAD {[round(m, 4) for m in mads]}"
    hf_best = np.stack([a[0].numpy() for a in reference.attentions]).argmax(-1)
    FIGURES["attention_argmax_agreement"] = float((view.attention.argmax(-1) == hf_best).mean())
    np.testing.assert_allclose(view.head_mean(), view.attention.mean(axis=1))


def test_reply_attention_in_its_conversation(engine: EngineClient, hf: Any) -> None:
    full = engine.attention(REPLY, context=QUESTION)
    reply = engine.attention(REPLY, context=QUESTION, reply_only=True, layers=[0, 15, 29])
    start = full.reply_start
    assert 0 < start < len(full.tokens) and reply.reply_start == reply.query_start == start
    assert "".join(t.text for t in full.tokens[start:]) == REPLY
    assert full.tokens[start - 1].text.endswith("\n")  # the template's generation prompt
    assert reply.attention.shape == (3, 9, len(full.tokens) - start, len(full.tokens))
    np.testing.assert_allclose(reply.attention, full.attention[[0, 15, 29], :, start:],
                               atol=1e-3)
    reference = hf_run(hf, [t.id for t in full.tokens])
    mads = layer_mads(full.attention, reference)
    FIGURES["chat_attention_tokens"] = len(full.tokens)
    FIGURES["chat_attention_mad_max"] = max(mads)
    assert max(mads) < MAD_LIMIT
    averaged = engine.attention(REPLY, context=QUESTION, mean_heads=True, layers=[5])
    assert averaged.heads_averaged and averaged.attention.shape[1] == 1
    np.testing.assert_allclose(averaged.attention[0, 0], full.head_mean()[5], atol=1e-3)


def test_span_attention_shares(engine: EngineClient) -> None:
    view = engine.attention(REPLY, context=QUESTION, layers=[10, 20])
    n = len(view.tokens)
    first, stop = view.token_range(view.text.index("France?"), view.text.index("France?") + 7)
    assert [t.text for t in view.tokens[first:stop]] == [" France", "?"]
    spans = [(0, first), (first, stop), (stop, n)]
    shares = view.span_attention(spans)
    # Every query row sums to 1, so spans that partition the keys share out all of it.
    assert sum(shares) == pytest.approx(1.0, abs=2e-3)
    assert all(0.0 <= s <= 1.0 for s in shares)
    assert view.span_attention([(first, stop)], layers=[20]) != view.span_attention(
        [(first, stop)], layers=[10])
    assert view.span_attention([(0, n)], queries=(n, n)) == [0.0]


def test_logit_lens_last_layer_is_the_models_prediction(engine: EngineClient, hf: Any) -> None:
    prompt = "The capital of France is"
    view = engine.logit_lens(prompt, top=5)
    nxt = engine.next_token(prompt, top=5)
    n = len(view.tokens)
    assert len(view.cells) == 30 and all(len(row) == n for row in view.cells)
    last = view.cells[-1][-1]
    assert last.id == nxt.raw[0].id == view.actual[-1].id
    assert abs(last.prob - nxt.raw[0].prob) < 0.03
    assert view.actual[-1].prob == pytest.approx(nxt.raw[0].prob, abs=1e-3)
    assert view.final_agreement == 1.0
    # Close runners-up may swap places (llama.cpp's 8-bit activations); the set holds.
    assert [c.id for c in last.top[:3]] == [c.id for c in nxt.raw[:3]]
    assert len({c.id for c in last.top} & {c.id for c in nxt.raw[:5]}) >= 4
    FIGURES["lens_last_prob_gap"] = abs(last.prob - nxt.raw[0].prob)
    # Intermediate layers against transformers' hidden states through the same norm + head.
    import torch

    reference = hf_run(hf, [t.id for t in view.tokens])
    with torch.no_grad():
        hf_ids = [hf.lm_head(hf.model.norm(h[0])).argmax(-1).tolist()
                  for h in reference.hidden_states[1:]]
    # transformers' last hidden state is already normed: compare the layers before it.
    same = [ours.id == theirs for row, ref in zip(view.cells[:-1], hf_ids[:-1], strict=True)
            for ours, theirs in zip(row, ref, strict=True)]
    FIGURES["lens_hf_agreement"] = sum(same) / len(same)
    assert sum(same) / len(same) > 0.9


def test_logit_lens_chosen_layers_and_reply(engine: EngineClient) -> None:
    view = engine.logit_lens(REPLY, context=QUESTION, layers=[29, 3], top=2)
    assert view.layers == [3, 29] and view.reply_start > 0
    assert all(len(c.top) == 2 and c.top[0].prob >= c.top[1].prob for c in view.cells[0])
    assert view.final_agreement > 0.95


def test_capture_rejects_bad_requests(engine: EngineClient) -> None:
    from core.errors import PromptError

    with pytest.raises(PromptError, match="Layers run from 0 to 29"):
        engine.attention("hello", layers=[30])
    with pytest.raises(PromptError, match="empty"):
        engine.attention("")
    with pytest.raises(PromptError, match="MB"):
        engine.attention("word " * 600)


def test_tensor_struct_layout_of_the_pinned_llama_cpp(model_path: Path) -> None:
    """Fails loudly when llama-cpp-python moves: re-check LLAMA_INTERNALS.md, then update."""
    import ctypes

    import llama_cpp

    from core.engine.capture import TensorCapture, _TensorHead

    assert llama_cpp.__version__ == "0.3.36", "new llama-cpp-python: re-verify the capture"
    assert [(name, getattr(_TensorHead, name).offset) for name, *_ in _TensorHead._fields_] == [
        ("type", 0), ("buffer", 8), ("ne", 16), ("nb", 48)]
    assert ctypes.sizeof(_TensorHead) == 80
    llm = llama_cpp.Llama(str(model_path), n_ctx=256, verbose=False, flash_attn=True,
                          type_k=8, type_v=8)  # the chat context may differ: capture must not
    capture = TensorCapture(llm)
    try:
        ids = llm.tokenize(b"one two three four", add_bos=False)
        got = capture.run(ids, frozenset({0, 29}), residual=True, all_logits=True)
        assert got.attention[0].shape == (9, len(ids), len(ids))
        assert got.residual[29].shape == (len(ids), 576) and len(got.residual) == 30
        assert got.logits is not None and got.logits.shape == (len(ids), llm.n_vocab())
        again = capture.run(ids, frozenset({0}))
        np.testing.assert_array_equal(again.attention[0], got.attention[0])
        assert not again.residual and again.logits is None
    finally:
        capture.close()
        llm.close()


def test_anatomy_of_the_bundled_model(engine: EngineClient, model_path: Path) -> None:
    from core.gguf.tensors import dequantize_tensor, read_tensor_table

    view = engine.anatomy()
    s = view.summary
    assert (s.architecture, s.n_layer, s.n_head, s.n_head_kv, s.n_embd, s.head_dim) == (
        "llama", 30, 9, 3, 576, 64)
    assert s.vocab_size == 49152 and s.context_length == 8192 and s.tied_embeddings
    assert s.rope_freq_base == 100000.0 and s.n_ff == 1536
    assert len(view.tensors) == 272 and view.metadata["general.architecture"] == "llama"
    by_name = {t.name: t for t in view.tensors}
    assert by_name["token_embd.weight"].shape == (49152, 576)
    assert by_name["token_embd.weight"].bits_per_weight == 8.5  # Q8_0: 34 bytes per 32
    assert by_name["blk.0.attn_q.weight"].type_name == "Q4_1"
    assert by_name["blk.0.attn_q.weight"].bits_per_weight == 5.0  # Q4_1: 20 bytes per 32
    assert sum(t.n_elements for t in view.tensors) == view.parameter_count
    assert sum(t.n_bytes for t in view.tensors) < view.file_size
    hist = engine.weight_histogram("blk.3.ffn_down.weight", bins=20)
    weights = dequantize_tensor(read_tensor_table(model_path), "blk.3.ffn_down.weight")
    assert weights.shape == (576, 1536)
    expected, _ = np.histogram(weights, bins=hist.edges)
    np.testing.assert_array_equal(hist.counts, expected)
    assert hist.n_values == weights.size and hist.mean == pytest.approx(float(weights.mean()))


def run_cli(engine: EngineClient, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    args = build_parser().parse_args(["inspect", *argv])
    assert cli_inspect.show(args, engine, sys.stdout) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json(engine: EngineClient, capsys: pytest.CaptureFixture[str]) -> None:
    att = run_cli(engine, capsys, "attention", "Hello world, hello", "--json")
    n = len(att["tokens"])
    assert att["tokens"][:2] == ["Hello", " world"]
    assert np.array(att["attention"]).shape == (30, 9, n, n)
    lens = run_cli(engine, capsys, "lens", "The capital of France is", "--json")
    assert len(lens["lens"]) == 30 and len(lens["lens"][0]) == len(lens["tokens"])
    assert set(lens["lens"][-1][-1]) == {"piece", "prob"}
    assert lens["lens"][-1][-1]["piece"] == " Paris"
    anatomy = run_cli(engine, capsys, "anatomy", "--json")
    assert anatomy["summary"]["n_layer"] == 30 and len(anatomy["tensors"]) == 272
