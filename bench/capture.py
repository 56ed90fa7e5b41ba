"""Model internals capture against a plain decode of the same prompt, on the bundled model:

- the capture itself (attention probabilities and residual streams of all 30 layers, copied
  out through cb_eval on the capture context) for a 128-token prompt, in this process, against
  a bare llama-cpp-python `reset()` + `eval()` of the same 128 ids (target: at most 3x);
- the attention view end to end through the engine child (capture, stacking, float16 over the
  pipe, float32 again here) against the same bare decode;
- the logit lens end to end (capture with every position's logits, then numpy through the
  dequantized final norm and output matrix for 30 layers x 128 positions), for scale.

Sides alternate round by round so load from other processes drifts over both alike.
"""

from __future__ import annotations

from typing import Any

from bench._stats import alternate, figure
from core.engine.client import EngineClient
from core.engine.loading import load_model
from core.engine.runner import default_threads
from core.models.bundled import default_chat_model
from core.models.load_settings import LoadSettings

PROMPT_TOKENS = 128
TARGET_RATIO = 3.0  # issue 5: capturing all layers costs at most 3x a plain decode
ROUNDS = 9
LENS_ROUNDS = 3

_SENTENCE = ("Old maps show roads that no longer exist and leave out cities that grew up "
             "afterwards, while the harbour records list every ship that came in. ")


def run() -> dict[str, Any]:
    import llama_cpp

    from core.engine.capture import TensorCapture

    path = str(default_chat_model())
    llm = llama_cpp.Llama(path, n_ctx=512, n_batch=512, n_threads=default_threads(),
                          verbose=False)
    ids = llm.tokenize((_SENTENCE * 12).encode(), add_bos=False)[:PROMPT_TOKENS]
    text = llm.detokenize(ids).decode("utf-8")
    capture = TensorCapture(llm)
    layers = frozenset(range(llama_cpp.llama_model_n_layer(llm._model.model)))

    def plain() -> None:
        llm.reset()
        llm.eval(ids)

    def captured() -> None:
        capture.run(ids, layers, residual=True)

    rows = []
    try:
        mine, theirs = alternate(captured, plain, ROUNDS)
        rows.append(figure(
            f"capture of attention + residuals, all {len(layers)} layers, "
            f"{len(ids)}-token prompt, SmolLM2-135M Q4_1", mine, theirs,
            "bare llama-cpp-python reset() + eval() of the same ids, same threads"))
        with EngineClient() as engine:
            load_model(engine, path, LoadSettings(gpu_layers=0, n_ctx=2048))
            mine, theirs = alternate(lambda: engine.attention(text), plain, ROUNDS)
            rows.append(figure(
                f"attention view through the engine, all layers and heads, {len(ids)} tokens",
                mine, theirs, "the same bare decode in this process"))
            mine, theirs = alternate(lambda: engine.logit_lens(text, top=1), plain,
                                      LENS_ROUNDS)
            rows.append(figure(f"logit lens through the engine, {len(layers)} layers x "
                               f"{len(ids)} positions", mine, theirs,
                               "the same bare decode in this process"))
    finally:
        capture.close()
        llm.close()
    for row in rows[:2]:
        row["target_ratio"] = TARGET_RATIO
        row["target_ratio_met"] = row["ratio"] <= TARGET_RATIO
    return {"name": "capture", "threads": default_threads(), "prompt_tokens": len(ids),
            "figures": rows}
