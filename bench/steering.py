"""Building a steering direction from 20 contrastive pairs, on the bundled model:

- through the engine child (`EngineClient.build_steering`: tokenize, capture every layer's
  residual stream of the 40 texts, pool, difference, direction, leave-one-out separation per
  layer) against a bare llama-cpp-python `reset()` + `eval()` of the same 40 texts' ids in this
  process (what reading them at all costs);
- the same build against the bare capture of the same 40 texts (TensorCapture with residuals
  and every position's logits, in this process): what steering adds over capturing.

Sides alternate round by round so load from other processes drifts over both alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench._stats import alternate, figure
from core.engine.client import EngineClient
from core.engine.loading import load_model
from core.engine.runner import default_threads
from core.engine.steering_types import SteeringPair
from core.models.bundled import default_chat_model
from core.models.load_settings import LoadSettings

PAIRS = 20
ROUNDS = 3
STARTERS = Path(__file__).resolve().parents[1] / "resources" / "steering"


def _pairs() -> list[SteeringPair]:
    rows = []
    for name in ("positive_negative", "formal_casual"):
        for line in (STARTERS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            rows.append(SteeringPair(**json.loads(line)))
    return rows[:PAIRS]


def run() -> dict[str, Any]:
    import llama_cpp

    from core.engine.capture import TensorCapture

    path = str(default_chat_model())
    pairs = _pairs()
    llm = llama_cpp.Llama(path, n_ctx=512, n_batch=512, n_threads=default_threads(),
                          verbose=False)
    add_bos = bool(llm._model.add_bos_token())
    texts = [llm.tokenize(t.encode(), add_bos=add_bos, special=False)
             for p in pairs for t in (p.positive, p.negative)]
    capture = TensorCapture(llm)

    def plain() -> None:
        for ids in texts:
            llm.reset()
            llm.eval(ids)

    def captured() -> None:
        for ids in texts:
            capture.run(ids, residual=True, all_logits=True)

    rows = []
    try:
        with EngineClient() as engine:
            load_model(engine, path, LoadSettings(gpu_layers=0, n_ctx=1024))
            build = lambda: engine.build_steering(pairs)  # noqa: E731
            mine, theirs = alternate(build, plain, ROUNDS)
            rows.append(figure(
                f"steering direction from {len(pairs)} pairs ({len(texts)} texts), all layers, "
                "through the engine", mine, theirs,
                "bare llama-cpp-python reset() + eval() of the same 40 texts, same threads"))
            mine, theirs = alternate(build, captured, ROUNDS)
            rows.append(figure(
                f"steering direction from {len(pairs)} pairs, against the bare capture",
                mine, theirs, "TensorCapture of the same 40 texts (residuals + logits of "
                "every position) in this process"))
    finally:
        capture.close()
        llm.close()
    return {"name": "steering", "threads": default_threads(), "pairs": len(pairs),
            "tokens": sum(len(t) for t in texts), "figures": rows}
