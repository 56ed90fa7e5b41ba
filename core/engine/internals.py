"""Attention and logit-lens views of the loaded model, built on a capture context.

Runs in the engine child next to the model; the Inspector creates one `ModelInternals` on
first use and keeps it (with its capture context and lens weights) as long as the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.engine.capture import TensorCapture
from core.engine.capture_types import AttentionView, LensCell, LensView
from core.engine.introspect_types import Candidate
from core.errors import PromptError

if TYPE_CHECKING:
    from core.engine.introspect import Inspector
    from core.engine.logit_lens import LensRows, LogitLens

# What one attention capture may hold in the child, float32: 30 layers x 9 heads x 128 x 128
# is 17 MB; this allows about 490 tokens with everything, more with fewer layers, the head mean
# or the reply's rows only.
ATTENTION_LIMIT_BYTES = 256 * 1024 * 1024
# The lens is a (positions x layers) matmul against the whole output matrix in numpy: about
# 0.1 s per layer for 128 positions on two cores; 512 positions and all layers take seconds.
LENS_MAX_TOKENS = 512


class ModelInternals:
    def __init__(self, llm: Any, inspector: Inspector) -> None:
        import llama_cpp

        self._llm = llm
        self._inspector = inspector
        model = llm._model.model
        self.n_layer = int(llama_cpp.llama_model_n_layer(model))
        self.n_head = int(llama_cpp.llama_model_n_head(model))
        self.n_head_kv = int(llama_cpp.llama_model_n_head_kv(model))
        self._capture = TensorCapture(llm)
        self._lens: LogitLens | None = None
        self._pieces: dict[int, str] = {}  # a lens grid names the same few tokens many times

    def close(self) -> None:
        self._capture.close()
        self._lens = None

    def _ids(self, text: str, prefix: str) -> tuple[list[int], int]:
        """Token ids of `prefix` + `text` and where `text` starts (as `surprise` reads them)."""
        llm = self._llm
        if not prefix:
            ids = self._inspector.prompt_ids(text)
            if not ids:
                raise PromptError("The text is empty: type something to look at.")
            return ids, 0
        add_bos = bool(llm._model.add_bos_token())
        head = list(llm.tokenize(prefix.encode("utf-8"), add_bos=add_bos, special=True))
        body = list(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
        if not body:
            raise PromptError("The reply is empty: there is nothing to look at.")
        return head + body, len(head)

    def _layers(self, layers: Sequence[int] | None) -> list[int]:
        if layers is None:
            return list(range(self.n_layer))
        chosen = sorted(set(int(x) for x in layers))
        bad = [x for x in chosen if not 0 <= x < self.n_layer]
        if bad or not chosen:
            raise PromptError(f"Layers run from 0 to {self.n_layer - 1}; {bad or 'none'} "
                              "cannot be shown.")
        return chosen

    def attention(self, text: str, prefix: str = "", layers: Sequence[int] | None = None,
                  reply_only: bool = False, mean_heads: bool = False) -> AttentionView:
        """Attention probabilities of every chosen layer and head over `prefix` + `text`.

        `reply_only` keeps the query rows of `text` alone (with a prefix: the reply's attention
        onto the whole conversation); `mean_heads` averages heads in the child. Both shrink the
        result for long prompts.
        """
        ids, reply_start = self._ids(text, prefix)
        chosen = self._layers(layers)
        query_start = reply_start if reply_only else 0
        heads = 1 if mean_heads else self.n_head
        size = len(chosen) * heads * (len(ids) - query_start) * len(ids) * 4
        if size > ATTENTION_LIMIT_BYTES:
            raise PromptError(
                f"Attention over {len(ids):,} tokens in {len(chosen)} layers would take "
                f"{size / 2**20:,.0f} MB. Choose fewer layers, average the heads, look at the "
                "reply's rows only, or use a shorter text.")
        captured = self._capture.run(ids, frozenset(chosen), query_start=query_start,
                                     mean_heads=mean_heads)
        import numpy as np

        array = np.stack([captured.attention[layer] for layer in chosen])
        captured.attention.clear()
        return AttentionView(
            tokens=[self._inspector.piece(t) for t in ids], attention=array, layers=chosen,
            n_head_kv=self.n_head_kv, reply_start=reply_start, query_start=query_start,
            heads_averaged=mean_heads)

    def _lens_weights(self) -> LogitLens:
        if self._lens is None:
            from core.engine.logit_lens import LogitLens

            self._lens = LogitLens(self._llm.model_path)
        return self._lens

    def lens(self, text: str, prefix: str = "", layers: Sequence[int] | None = None,
             top: int = 5) -> LensView:
        """For each chosen layer and position: the next token the residual stream would
        predict through the model's final norm and output matrix, with its probability."""
        from core.engine.logit_lens import top_of_logits

        ids, reply_start = self._ids(text, prefix)
        if len(ids) > LENS_MAX_TOKENS:
            raise PromptError(f"The text has {len(ids):,} tokens; the logit lens reads up to "
                              f"{LENS_MAX_TOKENS:,}. Use a shorter text.")
        chosen = self._layers(layers)
        lens = self._lens_weights()
        # All logits: the model's real predictions for comparison, and the only way to get
        # the last layer's stream at every position (llama.cpp trims it to the output rows).
        captured = self._capture.run(ids, residual=True, all_logits=True)
        # The last layer always goes in, for the agreement check; all layers in one matmul so
        # the output matrix (113 MB for a 49k vocabulary) is read once per block of rows.
        read = chosen if chosen[-1] == self.n_layer - 1 else [*chosen, self.n_layer - 1]
        import numpy as np

        rows = self._cells(lens.top(np.concatenate([captured.residual[x] for x in read]), top))
        captured.residual.clear()
        grid = [rows[i * len(ids): (i + 1) * len(ids)] for i in range(len(read))]
        cells, last = grid[: len(chosen)], grid[-1]
        assert captured.logits is not None
        actual = self._cells(top_of_logits(captured.logits, top))
        agree = sum(a.id == b.id for a, b in zip(last, actual, strict=True)) / len(ids)
        return LensView(tokens=[self._inspector.piece(t) for t in ids], layers=chosen,
                        cells=cells, actual=actual, reply_start=reply_start,
                        final_agreement=agree)

    def _cells(self, rows: LensRows) -> list[LensCell]:
        def piece(token: int) -> str:
            if token not in self._pieces:
                self._pieces[token] = self._inspector.piece(token).text
            return self._pieces[token]

        out = []
        for ids, probs, logits in zip(rows.ids, rows.probs, rows.logits, strict=True):
            top = [Candidate(int(i), piece(int(i)), float(p), float(g))
                   for i, p, g in zip(ids, probs, logits, strict=True)]
            out.append(LensCell(top[0].id, top[0].piece, top[0].prob, top))
        return out
