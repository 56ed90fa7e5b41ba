"""Occlusion attribution by sentence of a ~300-token prompt, through Glassbox's engine (child
process, the prefix's KV cache reused from each cut), against the same scores from N + 1
independent full evaluations with bare llama-cpp-python in this process (the whole prompt, then
each sentence cut out, every one on an empty cache): the KV-reuse advantage as a ratio.

A second row isolates the reuse itself: the engine with `reuse_prefix=False` (every cut prompt
decoded from scratch, the same child and protocol) against the engine with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench._stats import figure, time_ms
from core.engine.attribution_types import AttributionRequest, AttributionResult
from core.engine.client import EngineClient
from core.engine.introspect import log_softmax
from core.engine.runner import default_threads
from core.models.bundled import default_chat_model

PROMPT_TOKENS = 300
ROUNDS = 3
N_CTX = 512
REPLY = " The harbour froze in the winter of 1894."

_SENTENCES = (
    "The river town woke slowly, its bakers lighting ovens before the first boats came in.",
    "A bicycle turns the push of a rider's legs into rotation through cranks and a chain.",
    "Engineers measure twice because a bridge that is almost right is, in practice, wrong.",
    "In the archive, letters describe a winter so cold that the harbour froze solid.",
    "Photosynthesis stores the energy of sunlight in sugars built from carbon dioxide.",
    "She wrote the first draft in pencil, then typed it, then crossed half of it out.",
    "The committee agreed on a budget of 4,250 euros, to be reviewed after the summer.",
    "Old maps show roads that no longer exist and leave out cities that grew up later.",
    "When the power failed, the lab's freezers kept their samples cold for six hours.",
    "The letters are dated 1894, the year the newspapers called the great frost.",
)


def _prompt(engine: EngineClient) -> str:
    parts: list[str] = []
    i = 0
    while engine.count_tokens(" ".join(parts)) < PROMPT_TOKENS:
        parts.append(_SENTENCES[i % len(_SENTENCES)])
        i += 1
    return " ".join(parts) + "\nQuestion: When did the harbour freeze?\nAnswer:"


def _attribute(engine: EngineClient, request: AttributionRequest) -> AttributionResult:
    result = None
    for event in engine.attribute(request):
        if isinstance(event, AttributionResult):
            result = event
    assert result is not None and not result.cancelled
    return result


def run() -> dict[str, Any]:
    import llama_cpp

    engine = EngineClient()
    try:
        engine.load(default_chat_model(), n_ctx=N_CTX)
        prompt = _prompt(engine)
        request = AttributionRequest(prompt=prompt, reply=REPLY, by="sentence")
        fresh_request = AttributionRequest(prompt=prompt, reply=REPLY, by="sentence",
                                           reuse_prefix=False)
        result = _attribute(engine, request)
        units = [u for u in result.units if u.scored]
        ids, reply = list(result.prompt_ids), list(result.reply_ids)
        bare = llama_cpp.Llama(str(default_chat_model()), n_ctx=N_CTX, logits_all=True,
                               n_threads=default_threads(), verbose=False)

        def scores(tokens: list[int]) -> np.ndarray:
            bare.reset()
            bare._ctx.kv_cache_clear()
            bare.eval(tokens + reply)
            return np.array([log_softmax(bare.scores[len(tokens) - 1 + k])[t]
                             for k, t in enumerate(reply)])

        last: list[list[float]] = []

        def bare_all() -> None:
            base = scores(ids)
            last[:] = [[float((base - scores(ids[:u.token_start] + ids[u.token_end:])).sum())
                        for u in units]]

        ours = time_ms(lambda: _attribute(engine, request), ROUNDS)
        theirs = time_ms(bare_all, ROUNDS)
        no_reuse = time_ms(lambda: _attribute(engine, fresh_request), ROUNDS)
        # The same numbers either way (the fidelity tests check it closely; here, roughly).
        gap = max(abs(a - (u.score or 0.0)) for a, u in zip(last[0], units, strict=True))
        bare.close()
    finally:
        engine.close()
    est = result.estimate
    what = (f"attribution by sentence, {est.prompt_tokens}-token prompt, {len(units)} "
            f"sentences, {est.reply_tokens}-token reply, SmolLM2-135M Q4_1")
    rows = [
        figure(f"{what}: engine, KV cache reused from each cut", ours, theirs,
               f"bare llama-cpp-python: {len(units) + 1} independent full evaluations "
               "(logits_all, n_ctx 512), same threads, this process",
               decode_tokens=est.decode_tokens,
               decode_tokens_without_reuse=est.decode_tokens_without_reuse,
               max_score_gap=round(gap, 5)),
        figure(f"{what}: KV reuse alone", ours, no_reuse,
               "the same engine with reuse_prefix=False (each cut prompt from scratch)"),
    ]
    return {"name": "attribution", "threads": default_threads(), "figures": rows}
