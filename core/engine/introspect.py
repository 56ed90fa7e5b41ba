"""Looking inside the running model: tokens, next-token distributions, sampler stages, surprise.

Runs in the engine child next to the model. Everything is computed from the loaded GGUF's own
logits and llama.cpp's own samplers; nothing is canned.
"""

from __future__ import annotations

import ctypes
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from core.engine.continuation_types import ContinuationScore, ContinuationScores
from core.engine.introspect_types import (
    Candidate,
    NextTokenView,
    SamplerStage,
    SurpriseView,
    TokenPiece,
    TokenSurprise,
)
from core.engine.types import SamplingSettings
from core.errors import ModelLoadError, PromptError

if TYPE_CHECKING:
    from core.engine.internals import ModelInternals

_PENALTY_LAST_N = 64  # llama-cpp-python's default window for the repeat penalty


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    exp = np.exp(shifted)
    return exp / exp.sum()


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return shifted - math.log(float(np.exp(shifted).sum()))


class Inspector:
    """Introspection over one llama-cpp-python `Llama`, sharing its context and KV cache."""

    def __init__(self, llm: Any) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self._llm = llm
        self._vocab = llm._model.vocab
        self._n_vocab = llm.n_vocab()
        self._internals: ModelInternals | None = None

    @property
    def internals(self) -> ModelInternals:
        """Attention and logit lens (a capture context of their own), made on first use."""
        if self._internals is None:
            from core.engine.internals import ModelInternals

            self._internals = ModelInternals(self._llm, self)
        return self._internals

    def close(self) -> None:
        if self._internals is not None:
            self._internals.close()
            self._internals = None

    @classmethod
    def vocab_only(cls, path: str) -> Inspector:
        """An inspector over a model's tokenizer alone: loads in a fraction of a second."""
        from core.llama_log import open_llama

        try:
            llm = open_llama(path, vocab_only=True)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not read the tokenizer of {path}: {exc}") \
                from exc
        return cls(llm)

    # -- tokens -----------------------------------------------------------------------------
    def _piece_bytes(self, token: int) -> bytes:
        return bytes(self._llm.detokenize([token], special=True))

    def _is_special(self, token: int) -> bool:
        return bool(self._lib.llama_vocab_is_control(self._vocab, token)) or bool(
            self._lib.llama_vocab_is_eog(self._vocab, token)
        )

    def piece(self, token: int) -> TokenPiece:
        raw = self._piece_bytes(token)
        text = raw.decode("utf-8", errors="replace")
        return TokenPiece(token, text, raw.hex(), self._is_special(token))

    def tokenize(self, text: str, special: bool = True, add_bos: bool = False) -> list[TokenPiece]:
        ids = self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)
        return [self.piece(t) for t in ids]

    def prompt_ids(self, prompt: str | list[int]) -> list[int]:
        if isinstance(prompt, list):
            return prompt
        add_bos = bool(self._llm._model.add_bos_token())
        return list(self._llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True))

    # -- next token -------------------------------------------------------------------------
    def _last_logits(self, ids: list[int]) -> np.ndarray:
        """Logits after `ids`, re-using the KV cache of the longest prefix already evaluated."""
        llm = self._llm
        if not ids:
            raise PromptError("The prompt is empty: type something to predict from.")
        if len(ids) >= llm.n_ctx():
            raise PromptError(f"The prompt has {len(ids):,} tokens; the context holds "
                              f"{llm.n_ctx():,}.")
        cached = llm.input_ids[: llm.n_tokens].tolist()
        same = 0
        for a, b in zip(cached, ids, strict=False):
            if a != b:
                break
            same += 1
        llm.n_tokens = min(same, len(ids) - 1)  # at least one token to decode, for its logits
        llm.eval(ids[llm.n_tokens:])
        ptr = self._lib.llama_get_logits_ith(llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def _candidates(self, ids: np.ndarray, logits: np.ndarray, top: int) -> list[Candidate]:
        probs = softmax(logits)
        order = np.argsort(-probs, kind="stable")[:top]
        return [Candidate(int(ids[i]), self.piece(int(ids[i])).text, float(probs[i]),
                          float(logits[i])) for i in order]

    def next_token(self, prompt: str | list[int], sampling: SamplingSettings,
                   top: int = 10, continuation: list[int] | None = None) -> NextTokenView:
        """The next-token distribution, then what each llama.cpp sampler stage leaves of it.

        `continuation` holds tokens chosen after the prompt (step mode), as exact ids.
        """
        ids = self.prompt_ids(prompt) + list(continuation or [])
        logits = self._last_logits(ids)
        raw_probs = softmax(logits)
        nonzero = raw_probs[raw_probs > 0]
        entropy = float(-(nonzero * np.log2(nonzero)).sum())
        all_ids = np.arange(self._n_vocab)
        stages = [SamplerStage("raw", self._n_vocab, self._candidates(all_ids, logits, top))]
        stages += self._sampler_stages(logits, ids, sampling, top)
        scaled = self._candidates(all_ids, logits / max(sampling.temperature, 1e-6), top)
        return NextTokenView(len(ids), entropy, stages, scaled)

    def _stage_samplers(self, history: list[int], s: SamplingSettings) -> list[tuple[str, Any]]:
        lib = self._lib
        penalties = lib.llama_sampler_init_penalties(
            self._n_vocab, _PENALTY_LAST_N, s.repeat_penalty, 0.0, 0.0
        )
        for token in history[-_PENALTY_LAST_N:]:
            lib.llama_sampler_accept(penalties, token)
        # The order llama-cpp-python's generate() chains them in, so the view matches the chat.
        return [
            ("penalties", penalties),
            ("top-k", lib.llama_sampler_init_top_k(s.top_k)),
            ("top-p", lib.llama_sampler_init_top_p(s.top_p, 1)),
            ("min-p", lib.llama_sampler_init_min_p(s.min_p, 1)),
            ("temperature", lib.llama_sampler_init_temp(max(s.temperature, 1e-6))),
        ]

    def _sampler_stages(self, logits: np.ndarray, history: list[int], s: SamplingSettings,
                        top: int) -> list[SamplerStage]:
        lib = self._lib
        data = np.zeros(self._n_vocab, dtype=np.dtype(
            [("id", np.intc), ("logit", np.single), ("p", np.single)], align=True))
        data["id"] = np.arange(self._n_vocab)
        data["logit"] = logits
        array = lib.llama_token_data_array(
            data=data.ctypes.data_as(lib.llama_token_data_p), size=self._n_vocab,
            selected=-1, sorted=False)
        stages = []
        for name, sampler in self._stage_samplers(history, s):
            try:
                lib.llama_sampler_apply(sampler, ctypes.byref(array))
            finally:
                lib.llama_sampler_free(sampler)
            kept = data[: array.size]
            stages.append(SamplerStage(name, int(array.size),
                                       self._candidates(kept["id"], kept["logit"], top)))
        return stages

    # -- surprise ---------------------------------------------------------------------------
    def surprise(self, text: str, top: int = 5, prefix: str = "") -> SurpriseView:
        """How probable the model found each token of `text`, and the perplexity of the whole.

        With `prefix` (say, a chat prompt through its template) the text is read as its
        continuation, so a reply is measured in the context it was written in.
        """
        llm = self._llm
        add_bos = bool(llm._model.add_bos_token())
        if prefix:
            head = list(llm.tokenize(prefix.encode("utf-8"), add_bos=add_bos, special=True))
            body = list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        else:
            # Nothing comes before the first token, so it has no prediction to score.
            ids = list(llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False))
            head, body = ids[:1], ids[1:]
        if not head or not body:
            raise PromptError("The text needs at least two tokens to measure surprise.")
        if len(head) + len(body) > llm.n_ctx():
            raise PromptError(f"The text has {len(head) + len(body):,} tokens; the context "
                              f"holds {llm.n_ctx():,}. Use a shorter text.")
        logprobs = self.log_softmax_rows(head + body)
        tokens = []
        for i, token in enumerate(body):
            row = logprobs[len(head) - 1 + i]  # the row that predicts this token
            order = np.argsort(-row)[:top]
            alts = [Candidate(int(j), self.piece(int(j)).text, float(math.exp(row[j])),
                              float(row[j])) for j in order]
            tokens.append(TokenSurprise(token, self.piece(token).text, float(row[token]), alts))
        nll = -sum(t.logprob for t in tokens) / len(tokens)
        return SurpriseView(tokens, math.exp(nll))

    def log_softmax_rows(self, ids: list[int]) -> list[np.ndarray]:
        """Log-probabilities at every position, decoding in batches with logits for each token."""
        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        llm.n_tokens = 0
        rows: list[np.ndarray] = []
        for start in range(0, len(ids), llm.n_batch):
            chunk = ids[start: start + llm.n_batch]
            llm._batch.set_batch(batch=chunk, n_past=start, logits_all=True)
            llm._ctx.decode(llm._batch)
            llm.input_ids[start: start + len(chunk)] = chunk
            llm.n_tokens = start + len(chunk)
            for i in range(len(chunk)):
                ptr = self._lib.llama_get_logits_ith(llm._ctx.ctx, i)
                rows.append(log_softmax(np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))))
        return rows[:-1]

    # -- continuations ----------------------------------------------------------------------
    def continuations(self, prefix: str, texts: list[str],
                      reuse_prefix: bool = True) -> ContinuationScores:
        """Log-probabilities of each of `texts` read right after `prefix`, tokenized as
        `surprise(text, prefix=prefix)` tokenizes them, so the numbers are Surprise's.

        With `reuse_prefix` the prefix is decoded once: each text is decoded over the prefix's
        KV cache (the cells after it dropped in between), so N choices cost one prompt plus N
        short decodes instead of N whole prompts.
        """
        llm = self._llm
        start = time.perf_counter()
        add_bos = bool(llm._model.add_bos_token())
        head = list(llm.tokenize(prefix.encode("utf-8"), add_bos=add_bos, special=True))
        bodies = [list(llm.tokenize(t.encode("utf-8"), add_bos=False, special=False))
                  for t in texts]
        if not head:
            raise PromptError("The prompt is empty: choices need something to follow.")
        if any(not b for b in bodies):
            raise PromptError("A choice is empty: every choice needs at least one token.")
        longest = len(head) + max((len(b) for b in bodies), default=0)
        if longest > llm.n_ctx():
            raise PromptError(f"The prompt and its longest choice have {longest:,} tokens; "
                              f"the context holds {llm.n_ctx():,}.")
        if not reuse_prefix:
            scores = []
            for text, body in zip(texts, bodies, strict=True):
                rows = self.log_softmax_rows(head + body)
                scores.append(self._score(text, body, rows[len(head) - 1:]))
            return ContinuationScores(len(head), tuple(scores), False,
                                      time.perf_counter() - start)
        first = self._decode(head, 0, last_only=True)[-1]  # the row that predicts a choice's start
        scores = []
        for text, body in zip(texts, bodies, strict=True):
            llm._ctx.kv_cache_seq_rm(-1, len(head), -1)  # forget the previous choice
            rows = [first, *self._decode(body, len(head))[:-1]]
            scores.append(self._score(text, body, rows))
        return ContinuationScores(len(head), tuple(scores), True, time.perf_counter() - start)

    def _score(self, text: str, body: list[int], rows: list[np.ndarray]) -> ContinuationScore:
        return ContinuationScore(text, tuple(body), tuple(
            float(row[token]) for row, token in zip(rows, body, strict=False)))

    def _decode(self, ids: list[int], n_past: int, last_only: bool = False) -> list[np.ndarray]:
        """Decode `ids` at positions n_past.. over the cache kept below n_past; log-softmax rows
        for every token (or the last one only). Keeps llama-cpp-python's own view of the cache
        (input_ids, n_tokens) true, so its prefix matching stays correct afterwards."""
        llm = self._llm
        if n_past == 0:
            llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        rows: list[np.ndarray] = []
        for offset in range(0, len(ids), llm.n_batch):
            chunk = ids[offset: offset + llm.n_batch]
            at = n_past + offset
            llm._batch.set_batch(batch=chunk, n_past=at, logits_all=not last_only)
            llm._ctx.decode(llm._batch)
            llm.input_ids[at: at + len(chunk)] = chunk
            llm.n_tokens = at + len(chunk)
            wanted = [len(chunk) - 1] if last_only else range(len(chunk))
            for i in wanted:
                ptr = self._lib.llama_get_logits_ith(llm._ctx.ctx, i)
                rows.append(log_softmax(np.ctypeslib.as_array(ptr, shape=(self._n_vocab,))))
        return rows
