"""Completions for API clients, inside the engine child: stop strings, penalties, a grammar,
and log-probabilities read from the logits llama.cpp already computed for each sampled token
(so no `logits_all` context, which would cost n_ctx x n_vocab floats of memory)."""

from __future__ import annotations

import codecs
import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from core.engine.budget import fit_messages, reply_reserve
from core.engine.completion_types import (
    CompletionDone,
    CompletionEvent,
    CompletionFinish,
    CompletionPiece,
    CompletionRequest,
    TokenLogprob,
    TopLogprob,
)
from core.engine.introspect import log_softmax
from core.errors import PromptError

if TYPE_CHECKING:
    from core.engine.runner import ModelRunner


def checked_grammar(llm: Any, gbnf: str) -> Any:
    """A LlamaGrammar for `gbnf`, or PromptError. llama.cpp crashes the process on a grammar
    it cannot parse when sampling starts, so it is parsed once here first."""
    import llama_cpp
    from llama_cpp.llama_grammar import LlamaGrammar

    sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, gbnf.encode("utf-8"),
                                                   b"root")
    if not sampler:
        raise PromptError("The output format could not be turned into a grammar llama.cpp "
                          "accepts.")
    llama_cpp.llama_sampler_free(sampler)
    return LlamaGrammar.from_string(gbnf, verbose=False)


class StopScanner:
    """Finds stop strings in streamed text, holding back only what could still begin one."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """(text safe to release, whether a stop string ended the output)."""
        self._held += text
        if not self._stops:
            out, self._held = self._held, ""
            return out, False
        found = [self._held.find(s) for s in self._stops]
        hits = [i for i in found if i >= 0]
        if hits:
            out, self._held = self._held[:min(hits)], ""
            return out, True
        keep = 0
        for stop in self._stops:  # the longest tail that is a prefix of some stop string
            for n in range(min(len(stop) - 1, len(self._held)), 0, -1):
                if self._held.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        cut = len(self._held) - keep
        out, self._held = self._held[:cut], self._held[cut:]
        return out, False

    def flush(self) -> str:
        out, self._held = self._held, ""
        return out


class _Scorer:
    """Log-probabilities of tokens from llama.cpp's logits rows."""

    def __init__(self, llm: Any, top: int) -> None:
        import llama_cpp

        self._llm = llm
        self._lib = llama_cpp
        self._top = top
        self._n_vocab = llm.n_vocab()

    def _piece(self, token: int) -> tuple[str, tuple[int, ...]]:
        raw = self._llm.detokenize([token], special=True)
        return raw.decode("utf-8", errors="replace"), tuple(raw)

    def score(self, token: int, row: np.ndarray | None) -> TokenLogprob:
        text, raw = self._piece(token)
        if row is None:
            return TokenLogprob(text, raw, None)
        top: tuple[TopLogprob, ...] = ()
        if self._top:
            order = np.argpartition(-row, self._top)[:self._top]
            order = order[np.argsort(-row[order])]
            top = tuple(TopLogprob(*self._piece(int(j)), float(row[j])) for j in order)
        return TokenLogprob(text, raw, float(row[token]), top)

    def last_row(self) -> np.ndarray:
        # The logits of the position that produced the token just sampled: the generator is
        # paused at its yield, before the next decode overwrites them.
        ptr = self._lib.llama_get_logits_ith(self._llm._ctx.ctx, -1)
        return log_softmax(np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)))


def _prompt_tokens(runner: ModelRunner, request: CompletionRequest,
                   ) -> tuple[list[int], str, int]:
    llm = runner.llm
    n_ctx = llm.n_ctx()
    if request.messages:
        if not request.messages[-1].content.strip():
            raise PromptError("The last message is empty.")
        reserve = reply_reserve(request.sampling.max_tokens, n_ctx)
        kept, dropped = fit_messages(request.messages, runner.count_prompt, n_ctx, reserve)
        text = runner.render_prompt(kept)
        return runner.tokenize_prompt(text), text, dropped
    if not request.prompt:
        raise PromptError("The prompt is empty.")
    tokens = runner.tokenize_prompt(request.prompt)
    if len(tokens) >= n_ctx:
        raise PromptError(f"The prompt has {len(tokens):,} tokens; the model's context holds "
                          f"{n_ctx:,}. Shorten it, or load the model with a larger context.")
    return tokens, request.prompt, 0


def _echo(runner: ModelRunner, tokens: list[int], scorer: _Scorer) -> tuple[TokenLogprob, ...]:
    rows = runner.inspector.log_softmax_rows(tokens)  # rows[i] predicts tokens[i + 1]
    first = scorer.score(tokens[0], None)
    return (first, *(scorer.score(t, rows[i]) for i, t in enumerate(tokens[1:])))


def stream_completion(runner: ModelRunner, request: CompletionRequest,
                      cancelled: Callable[[], bool]) -> Iterator[CompletionEvent]:
    """Stream a completion; ends with one CompletionDone (cancel makes it end early)."""
    llm = runner.llm
    sampling = request.sampling
    tokens, prompt_text, dropped = _prompt_tokens(runner, request)
    grammar = checked_grammar(llm, request.grammar) if request.grammar else None
    scorer = _Scorer(llm, request.logprobs or 0)
    echo = _echo(runner, tokens, scorer) if request.echo and request.logprobs is not None else ()
    llm.set_seed(sampling.seed if sampling.seed >= 0 else random.randrange(2**31))
    limit = min(sampling.max_tokens, llm.n_ctx() - len(tokens))
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    stops = StopScanner(request.stop)
    pieces: list[str] = []
    pending: list[TokenLogprob] = []
    started = time.perf_counter()
    first_at = None
    count = 0
    finish: CompletionFinish = "length"
    hit_stop = False
    import llama_cpp

    stream = llm.generate(tokens, top_k=sampling.top_k, top_p=sampling.top_p,
                          min_p=sampling.min_p, temp=sampling.temperature,
                          repeat_penalty=sampling.repeat_penalty,
                          presence_penalty=request.presence_penalty,
                          frequency_penalty=request.frequency_penalty,
                          grammar=grammar, reset=True)
    for token in stream:
        if cancelled():
            finish = "cancelled"
            break
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token):
            finish = "stop"
            break
        first_at = first_at or time.perf_counter()
        count += 1
        if request.logprobs is not None:
            pending.append(scorer.score(token, scorer.last_row()))
        text, stopped = stops.feed(decoder.decode(llm.detokenize([token])))
        if text or stopped:
            pieces.append(text)
            yield CompletionPiece(text, tuple(pending))
            pending = []
        if stopped:
            finish, hit_stop = "stop", True
            break
        if count >= limit:
            break
    if not hit_stop:  # what was held back as a possible stop string's start is output
        tail = stops.feed(decoder.decode(b"", final=True))[0] + stops.flush()
        if tail or pending:
            pieces.append(tail)
            yield CompletionPiece(tail, tuple(pending))
    total = time.perf_counter() - started
    yield CompletionDone("".join(pieces), finish, len(tokens), count, prompt_text,
                         ttft_s=(first_at or time.perf_counter()) - started, total_s=total,
                         echo=echo, dropped_messages=dropped)
