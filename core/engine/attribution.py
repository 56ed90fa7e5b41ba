"""Occlusion attribution: remove each part of the prompt in turn and measure how much less
likely the reply (or one chosen next token) becomes. Runs in the engine child, on the loaded
model's own context.

How a removal is tokenized: the prompt is tokenized once, and a unit (a run of whole tokens,
see attribution_units.py) is cut out of that token list. Re-tokenizing the text without the
unit would be the other choice, but it lets the tokenizer re-merge the pieces on either side
of the cut (" New" + "York" could become a different token than before), so the comparison
would mix the removal with a change of tokens elsewhere, and the tokens before the cut might
not even stay the same. Cutting token ranges keeps every other token identical, which is what
"the same prompt without this unit" should mean, and it makes the prefix before the cut
exactly the baseline's prefix: its KV cache can be reused as it is.

The KV reuse: the full prompt and reply are decoded once (the baseline). Units are then taken
from the last to the first. For a unit at tokens [a, b), the cache cells at positions >= a are
dropped (llama_memory_seq_rm, which llama-cpp-python 0.3.36 wraps as kv_cache_seq_rm) and only
prompt[b:] + reply is decoded, at positions a.. ; the cells below a are the baseline's own,
untouched by every later unit since those start further left. So each unit costs the tokens
after the cut instead of the whole prompt: on average half for a uniform split. The numbers
equal a fresh evaluation of the cut token list up to float rounding (tests/attribution).

Score: baseline log-probability of the reply minus the occluded one (natural log). Positive:
the unit made the reply more likely.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from core.engine.attribution_types import (
    AttributionEstimate,
    AttributionEvent,
    AttributionProgress,
    AttributionRequest,
    AttributionResult,
    AttributionUnit,
    ReplySentence,
)
from core.engine.attribution_units import plan_units, reply_sentences, token_char_spans
from core.engine.introspect import log_softmax
from core.errors import AttributionError, Cancelled

if TYPE_CHECKING:
    from core.engine.runner import ModelRunner

_PROGRESS_EVERY_S = 0.1  # progress events at most this often: thousands of token units
# Decode in chunks this small (not llama.cpp's 512) so Cancel is seen within a fraction of a
# second even while a 4,000-token prompt is read; prompt throughput is about the same.
_CHUNK = 64
_RATE_SAMPLE = 64  # tokens decoded to measure tokens/s for the estimate


class _Plan:
    """The tokens, units and reply of one request, before anything is decoded."""

    def __init__(self, runner: ModelRunner, request: AttributionRequest) -> None:
        llm = runner.llm
        inspector = runner.inspector
        prompt = runner.render_prompt(list(request.messages)) if request.messages \
            else request.prompt
        if not prompt.strip():
            raise AttributionError("The prompt is empty: there is nothing to remove. Type the "
                                   "prompt whose parts should be weighed.")
        self.ids = list(runner.tokenize_prompt(prompt))
        if request.next_token is not None:
            if not 0 <= request.next_token < llm.n_vocab():
                raise AttributionError(f"Token id {request.next_token} is not in this model's "
                                       f"vocabulary (0–{llm.n_vocab() - 1}).")
            self.reply = [int(request.next_token)]
        else:
            if not request.reply.strip():
                raise AttributionError("The reply is empty: give the reply to explain, or "
                                       "let the model write one first.")
            self.reply = list(llm.tokenize(request.reply.encode("utf-8"), add_bos=False,
                                           special=False))
        total = len(self.ids) + len(self.reply)
        if total > llm.n_ctx():
            raise AttributionError(f"The prompt and reply have {total:,} tokens; the context "
                                   f"holds {llm.n_ctx():,}. Load the model with a larger "
                                   "context or shorten them.")
        pieces = [bytes(llm.detokenize([t], special=True)) for t in self.ids]
        self.text, spans = token_char_spans(pieces)
        special = [inspector._is_special(t) for t in self.ids]
        self.units = plan_units(self.text, spans, special, request.by, request.spans)
        self.scored = [u for u in self.units if u.scored]
        if not self.scored:
            raise AttributionError("The prompt has no part that can be removed (only the chat "
                                   "template's special tokens).")
        if any(u.token_start == 0 and u.token_end == len(self.ids) for u in self.scored):
            raise AttributionError("The whole prompt is one unit: removing it leaves nothing "
                                   "for the reply to follow. Choose a finer granularity.")
        reply_pieces = [bytes(llm.detokenize([t], special=True)) for t in self.reply]
        self.reply_text, reply_spans = token_char_spans(reply_pieces)
        self.reply_pieces = tuple(p.decode("utf-8", errors="replace") for p in reply_pieces)
        self.sentences = tuple(ReplySentence(*s) for s in
                               reply_sentences(self.reply_text, reply_spans))

    def decode_cost(self, unit: AttributionUnit, reuse: bool) -> int:
        """Tokens decoded to score `unit` (see _Occluder.occluded for the start)."""
        kept = len(self.ids) - (unit.token_end - unit.token_start)
        if not reuse:
            return kept + len(self.reply)
        start = min(unit.token_start, kept - 1)
        return kept + len(self.reply) - start


class _Occluder:
    """Decodes on the runner's context, keeping llama-cpp-python's view of the cache true."""

    def __init__(self, runner: ModelRunner, cancelled: Callable[[], bool]) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._llm = runner.llm
        self._n_vocab = self._llm.n_vocab()
        self._cancelled = cancelled
        self.decoded = 0

    def logprobs(self, ids: Sequence[int], n_past: int, targets: Sequence[int],
                 first_row: int) -> list[float] | None:
        """Decode `ids` at positions n_past.. over the cache below n_past; the log-probability
        of targets[k] from the row of ids[first_row + k]. None when cancelled midway."""
        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm.n_tokens = n_past
        out: list[float] = []
        step = min(_CHUNK, llm.n_batch)
        for offset in range(0, len(ids), step):
            if self._cancelled():
                return None
            chunk = list(ids[offset: offset + step])
            at = n_past + offset
            llm._batch.set_batch(batch=chunk, n_past=at, logits_all=False)
            rows = [i for i in range(len(chunk)) if 0 <= offset + i - first_row < len(targets)]
            for i in range(len(chunk)):
                llm._batch.batch.logits[i] = i in rows
            llm._ctx.decode(llm._batch)
            llm.input_ids[at: at + len(chunk)] = chunk
            llm.n_tokens = at + len(chunk)
            self.decoded += len(chunk)
            for i in rows:
                ptr = self._lib.llama_get_logits_ith(llm._ctx.ctx, i)
                row = log_softmax(np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)))
                out.append(float(row[targets[offset + i - first_row]]))
        return out

    def occluded(self, plan: _Plan, unit: AttributionUnit, reuse: bool) -> list[float] | None:
        """The reply's per-token log-probabilities with `unit` cut out of the prompt."""
        prompt = plan.ids[:unit.token_start] + plan.ids[unit.token_end:]
        full = prompt + plan.reply
        # The row that predicts the reply's first token is the last prompt token's: when the
        # cut reaches the prompt's end, that token (before the cut) is decoded again.
        start = min(unit.token_start, len(prompt) - 1) if reuse else 0
        return self.logprobs(full[start:], start, plan.reply, len(prompt) - 1 - start)


def _estimate(plan: _Plan, tokens_per_s: float) -> AttributionEstimate:
    baseline = len(plan.ids) + len(plan.reply)
    reuse = baseline + sum(plan.decode_cost(u, True) for u in plan.scored)
    fresh = baseline + sum(plan.decode_cost(u, False) for u in plan.scored)
    return AttributionEstimate(len(plan.ids), len(plan.reply), len(plan.units),
                               len(plan.scored), reuse, fresh, tokens_per_s,
                               reuse / tokens_per_s if tokens_per_s > 0 else 0.0)


def _baseline(plan: _Plan, occluder: _Occluder) -> tuple[list[float], float]:
    """The reply's log-probabilities with the whole prompt, and the measured tokens/s."""
    started = time.perf_counter()
    full = plan.ids + plan.reply
    logprobs = occluder.logprobs(full, 0, plan.reply, len(plan.ids) - 1)
    if logprobs is None:
        raise Cancelled("The attribution was cancelled while the whole prompt was read, "
                        "before any part was removed: nothing was scored.")
    seconds = max(time.perf_counter() - started, 1e-6)
    return logprobs, len(full) / seconds


def estimate(runner: ModelRunner, request: AttributionRequest,
             cancelled: Callable[[], bool]) -> AttributionEstimate:
    """What `attribute` will cost: its tokens counted exactly, its time from the tokens/s
    measured by decoding the prompt's first tokens (a long prompt's later tokens attend to
    more and the short tail decodes run a little slower per token: take it as a floor)."""
    plan = _Plan(runner, request)
    sample = plan.ids[:_RATE_SAMPLE]
    started = time.perf_counter()
    if _Occluder(runner, cancelled).logprobs(sample, 0, [], 0) is None:
        raise Cancelled("The estimate was cancelled.")
    return _estimate(plan, len(sample) / max(time.perf_counter() - started, 1e-6))


def attribute(runner: ModelRunner, request: AttributionRequest,
              cancelled: Callable[[], bool]) -> Iterator[AttributionEvent]:
    """Score every unit: progress events, then one AttributionResult (partial, with
    `cancelled` set, when `cancelled()` turned true)."""
    started = time.perf_counter()
    plan = _Plan(runner, request)
    occluder = _Occluder(runner, cancelled)
    base, rate = _baseline(plan, occluder)
    estimate_ = _estimate(plan, rate)
    scores: dict[int, list[float]] = {}
    stopped = False
    last_report = 0.0
    # Right to left: each unit's cut point is left of the cells the one before it replaced.
    order = sorted(plan.scored, key=lambda u: u.token_start, reverse=True)
    for done, unit in enumerate(order, start=1):
        if cancelled():
            stopped = True
            break
        logprobs = occluder.occluded(plan, unit, request.reuse_prefix)
        if logprobs is None:
            stopped = True
            break
        scores[unit.index] = [b - o for b, o in zip(base, logprobs, strict=True)]
        now = time.perf_counter()
        if now - last_report >= _PROGRESS_EVERY_S or done == len(order):
            last_report = now
            yield AttributionProgress(done, len(order), occluder.decoded, now - started)
    units = tuple(_scored(u, scores.get(u.index), plan) for u in plan.units)
    yield AttributionResult(
        request.by, plan.text, tuple(plan.ids), tuple(plan.reply), plan.reply_text,
        plan.reply_pieces, tuple(base), units,
        plan.sentences, estimate_, occluder.decoded, time.perf_counter() - started,
        request.reuse_prefix, cancelled=stopped, done=len(scores),
        unscored=tuple(u.index for u in plan.scored if u.index not in scores))


def _scored(unit: AttributionUnit, drops: list[float] | None, plan: _Plan) -> AttributionUnit:
    if drops is None:
        return unit
    return replace(unit, score=float(sum(drops)), token_scores=tuple(drops),
                   sentence_scores=tuple(float(sum(drops[s.token_start:s.token_end]))
                                         for s in plan.sentences))
