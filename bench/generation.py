"""Generation speed through Glassbox's engine (child process, template, protocol) against a bare
llama-cpp-python decode loop on the same model, prompt, seed and token count."""

from __future__ import annotations

import statistics
import time
from typing import Any

from core.engine.client import EngineClient
from core.engine.runner import default_threads
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.models.bundled import default_chat_model

PROMPT = "Explain in detail how a bicycle works."
TOKENS = 128
ROUNDS = 5


def _bare_tokens_per_s(rounds: int) -> list[float]:
    import llama_cpp

    llm = llama_cpp.Llama(str(default_chat_model()), n_ctx=4096, n_threads=default_threads(),
                          verbose=False)
    # The same text Glassbox sends, so both sides prefill and decode the same work.
    prompt = ("<|im_start|>user\n" + PROMPT + "<|im_end|>\n<|im_start|>assistant\n").encode()
    tokens = llm.tokenize(prompt, add_bos=False, special=True)
    rates = []
    for _ in range(rounds):
        llm.set_seed(1)
        count, first = 0, 0.0
        for token in llm.generate(tokens, temp=0.7, top_k=40, top_p=0.95, min_p=0.05,
                                  repeat_penalty=1.1, reset=True):
            if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
                break  # end of turn, as Glassbox stops there too
            count += 1
            if count == 1:
                first = time.perf_counter()
            if count == TOKENS:
                break
        rates.append((count - 1) / (time.perf_counter() - first))
        llm.reset()
    llm.close()
    return rates


def _glassbox_tokens_per_s(rounds: int) -> list[float]:
    rates = []
    with EngineClient() as engine:
        engine.load(default_chat_model(), n_ctx=4096)
        for _ in range(rounds):
            events = list(engine.generate([ChatMessage("user", PROMPT)],
                                          SamplingSettings(seed=1, max_tokens=TOKENS)))
            done = events[-1]
            assert isinstance(done, DoneEvent)
            rates.append(done.stats.tokens_per_s)
    return rates


def run() -> dict[str, Any]:
    bare = statistics.median(_bare_tokens_per_s(ROUNDS))
    ours = statistics.median(_glassbox_tokens_per_s(ROUNDS))
    return {
        "name": "generation tokens/s (SmolLM2-135M Q4_1, 128 tokens, median of 5)",
        "glassbox": round(ours, 1),
        "baseline": round(bare, 1),
        "baseline_is": "bare llama-cpp-python Llama.generate loop, same run, same threads",
        "threads": default_threads(),
        "ratio": round(ours / bare, 3),
    }
