"""Generation through Glassbox's engine (child process, template, protocol, UTF-8 decoding)
against bare llama-cpp-python on the same model, text, seed, threads and token count.

Two figures: decode speed (tokens/s after the first token) and time to first token for a long
(about 500-token) prompt, whose baseline is a bare prompt evaluation of the same token ids.
Rounds alternate between the two sides so that machine load falls on both alike.
"""

from __future__ import annotations

import time
from typing import Any

from bench._stats import figure
from core.defaults import DEFAULT_N_CTX
from core.engine.client import EngineClient
from core.engine.loading import load_model
from core.engine.runner import default_threads
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.models.bundled import default_chat_model
from core.models.load_settings import LoadSettings

PROMPT = "Explain in detail how a bicycle works."
TOKENS = 128
ROUNDS = 5
LONG_PROMPT_TOKENS = 500
N_CTX = DEFAULT_N_CTX  # what the app loads with unless the user picks another
# A varied paragraph, repeated until the prompt holds about LONG_PROMPT_TOKENS tokens.
_LONG_UNIT = (
    "The lighthouse keeper logged the weather every four hours: wind from the north-west at "
    "twenty knots, visibility falling, a swell of two metres. Ships passing the headland "
    "reported by radio, and each report went into the ledger with its time and position. "
)


def _template(text: str) -> bytes:
    """SmolLM2's chat template around one user message, as Glassbox renders it."""
    return ("<|im_start|>user\n" + text + "<|im_end|>\n<|im_start|>assistant\n").encode()


def long_prompt(llm: Any) -> str:
    """A user message whose templated form is LONG_PROMPT_TOKENS tokens or just over."""
    text = _LONG_UNIT
    while len(llm.tokenize(_template(text), add_bos=False, special=True)) < LONG_PROMPT_TOKENS:
        text += _LONG_UNIT
    return text


APP_SAMPLING = {"temp": 0.7, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repeat_penalty": 1.1}


class Bare:
    """The baseline: one bare `llama_cpp.Llama`, loaded once, driven by hand with `sampling`
    (llama-cpp-python's argument names; the app's defaults unless told otherwise)."""

    def __init__(self, threads: int | None = None,
                 sampling: dict[str, float] | None = None) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._sampling = sampling or APP_SAMPLING
        self.llm = llama_cpp.Llama(str(default_chat_model()), n_ctx=N_CTX,
                                   n_threads=threads or default_threads(), verbose=False)

    def tokens_per_s(self, prompt: str = PROMPT, seed: int = 1) -> float:
        llm = self.llm
        tokens = llm.tokenize(_template(prompt), add_bos=False, special=True)
        llm.set_seed(seed)
        count, first = 0, 0.0
        for token in llm.generate(tokens, reset=True, **self._sampling):
            if self._lib.llama_vocab_is_eog(llm._model.vocab, token):
                break  # end of turn: Glassbox stops there too
            count += 1
            if count == 1:
                first = time.perf_counter()
            if count == TOKENS:
                break
        rate = (count - 1) / (time.perf_counter() - first)
        llm.reset()
        return rate

    def prompt_eval_ms(self, text: str) -> float:
        llm = self.llm
        tokens = llm.tokenize(_template(text), add_bos=False, special=True)
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        return (time.perf_counter() - started) * 1000.0

    def close(self) -> None:
        self.llm.close()


def _ours(engine: EngineClient, text: str, max_tokens: int) -> DoneEvent:
    events = list(engine.generate([ChatMessage("user", text)],
                                  SamplingSettings(seed=1, max_tokens=max_tokens)))
    done = events[-1]
    assert isinstance(done, DoneEvent), done
    return done


def _ours_first_token_ms(engine: EngineClient, text: str) -> float:
    """From the request leaving this process to the first streamed event coming back: the
    template, tokenizing, prompt evaluation, sampling and both pipe crossings."""
    started = time.perf_counter()
    stream = engine.generate([ChatMessage("user", text)], SamplingSettings(seed=1, max_tokens=1))
    next(iter(stream))
    elapsed = (time.perf_counter() - started) * 1000.0
    for _ in stream:  # drain: the engine takes one request at a time
        pass
    return elapsed


def run() -> dict[str, Any]:
    bare = Bare()
    text = long_prompt(bare.llm)
    prompt_tokens = len(bare.llm.tokenize(_template(text), add_bos=False, special=True))
    ours_rate: list[float] = []
    bare_rate: list[float] = []
    ours_ttft: list[float] = []
    bare_eval: list[float] = []
    try:
        with EngineClient() as engine:
            # On the CPU with one thread a core, as the bare Llama above.
            load_model(engine, default_chat_model(), LoadSettings(gpu_layers=0, n_ctx=N_CTX))
            _ours(engine, PROMPT, 8)  # warm both sides once, untimed
            bare.prompt_eval_ms(PROMPT)
            for _ in range(ROUNDS):
                ours_rate.append(_ours(engine, PROMPT, TOKENS).stats.tokens_per_s)
                bare_rate.append(bare.tokens_per_s())
                # The short prompt above replaced the KV cache, so this evaluates all of `text`.
                ours_ttft.append(_ours_first_token_ms(engine, text))
                bare_eval.append(bare.prompt_eval_ms(text))
    finally:
        bare.close()
    threads = default_threads()
    return {
        "name": "generation",
        "threads": threads,
        "long_prompt_tokens": prompt_tokens,
        "figures": [
            figure(f"generation tokens/s, SmolLM2-135M Q4_1, {TOKENS} tokens", ours_rate,
                   bare_rate, f"bare `Llama.generate` loop, same run, {threads} threads",
                   unit="tokens/s", higher_is_better=True),
            figure(f"time to first token, {prompt_tokens}-token prompt", ours_ttft, bare_eval,
                   "bare `Llama.eval` of the same templated prompt ids (prompt evaluation "
                   "only, no sampling)"),
        ],
    }
