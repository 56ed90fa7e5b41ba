"""The exported tiny model is the trained model: llama.cpp's next-token logits for the GGUF
match torch's on the same tokens, at every position of a few prompts.

Tolerance. The weights are float32 in the file, so llama.cpp's CPU matmuls run in float32 (it
rounds activations to 8 bits only against quantized weights). What still differs: its KV cache
keeps K and V in float16 (11-bit mantissa, relative rounding up to 2^-11 = 4.9e-4), and the
sums run in another order. Logits here reach about +-15, so a few 1e-3 of absolute difference
is the expected size (measured: 3.4e-3 on a 1-layer model); the test allows 0.05 absolute,
and the probabilities (what Next token shows) to 2e-3, and asks for the same top token at every
position. A real layout error (Q/K rotary pairs, a transposed weight, a wrong norm, the unseen
row) moves logits by whole units, far outside this.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from core.foundations.tiny_events import Finished
from core.foundations.tiny_gguf import export_gguf, full_embedding, load_checkpoint
from core.foundations.tiny_model import TinyConfig
from core.foundations.tiny_train import train
from core.llama_log import open_llama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_gpt_text import grammar_text  # noqa: E402

PROMPTS = [
    "The cat sees the ball. My friend likes the river.",
    "A small bird follows her book",
    "Unseen words: quantum zebra harmonica!",  # tokens the text never used: the shared row
]
ABS_LOGITS = 0.05
ABS_PROBS = 2e-3


@pytest.fixture(scope="module")
def exported(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tiny-gguf")
    # two layers and two heads, so block order and head split are both checked
    config = TinyConfig(layers=2, heads=2, width=64, context=32, batch_size=8, steps=40,
                        eval_every=40, sample_every=40)
    end = list(train(config, grammar_text(200), model_path, folder))[-1]
    assert isinstance(end, Finished) and end.ok and end.checkpoint
    return Path(end.checkpoint), export_gguf(end.checkpoint, folder / "tiny.gguf", "tiny test")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_llama_cpp_logits_match_torch_at_every_position(exported: tuple[Path, Path]) -> None:
    import torch

    checkpoint, gguf_path = exported
    model, info = load_checkpoint(checkpoint)
    seen, full = list(info["vocab"]["seen"]), int(info["vocab"]["full_size"])
    embedding = torch.from_numpy(full_embedding(model, seen, full))
    row_of = {t: r for r, t in enumerate(seen)}
    llm = open_llama(str(gguf_path), n_ctx=64, logits_all=True, n_threads=1)
    try:
        assert llm.n_vocab() == full
        for prompt in PROMPTS:
            ids = llm.tokenize(prompt.encode(), add_bos=False)
            llm.reset()
            llm.eval(ids)
            theirs = np.array(llm.scores[: len(ids)], dtype=np.float64)
            rows = torch.tensor([[row_of.get(t, len(seen)) for t in ids]])
            with torch.no_grad():
                ours = (model.hidden(rows)[0] @ embedding.T).double().numpy()
            assert theirs.shape == ours.shape == (len(ids), full)
            assert np.abs(theirs - ours).max() < ABS_LOGITS, prompt
            assert np.abs(_softmax(theirs) - _softmax(ours)).max() < ABS_PROBS, prompt
            assert (theirs.argmax(-1) == ours.argmax(-1)).all(), prompt
    finally:
        llm.close()


def test_the_gguf_is_a_llama_model_with_the_chat_models_tokenizer(
        exported: tuple[Path, Path], model_path: Path) -> None:
    import gguf

    _, gguf_path = exported
    mine, chat = gguf.GGUFReader(str(gguf_path)), gguf.GGUFReader(str(model_path))

    def value(reader: gguf.GGUFReader, key: str) -> object:
        field = reader.get_field(key)
        assert field is not None, key
        return field.contents()

    assert value(mine, "general.architecture") == "llama"
    for key in ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
                "tokenizer.chat_template", "tokenizer.ggml.tokens"):
        assert value(mine, key) == value(chat, key), key
    assert {t.tensor_type for t in mine.tensors} == {gguf.GGMLQuantizationType.F32}
    assert "output.weight" not in {t.name for t in mine.tensors}  # the head is tied


def test_the_exported_model_tokenizes_like_the_chat_model(exported: tuple[Path, Path],
                                                          model_path: Path) -> None:
    _, gguf_path = exported
    text = "Glassbox's tiny model splits words the same way: naïve café, 12,345 tokens!"
    mine, chat = open_llama(str(gguf_path), vocab_only=True), open_llama(str(model_path),
                                                                        vocab_only=True)
    assert mine.tokenize(text.encode(), add_bos=False) == chat.tokenize(text.encode(),
                                                                       add_bos=False)
