"""Quantization lab and embedding maps against the raw libraries they wrap, on bundled models:

- quantizing SmolLM2-135M Q4_1 to Q2_K through the lab (a spawned child process, progress from
  the growing file, the result's tensor-type census) against a bare
  `llama_cpp.llama_model_quantize` call in this process with the same type and threads;
- comparing the original and the Q2_K copy on the lab's default text (a child process that
  loads both, captures logits and all 30 residual streams, then KL, flips and drift) against
  a bare load of both models with `logits_all=True` and one `eval` of the same ids each;
- a token-neighbour look-up on the loaded embedding matrix (top 20 and its 2D map) against a
  bare numpy `matrix @ vector` + `argpartition` on the same matrix;
- the sentence map of the 10 example sentences against bare `SentenceTransformer.encode`.

Sides alternate round by round so load from other processes drifts over both alike.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bench._stats import alternate, figure
from core.models.bundled import default_chat_model

ROUNDS = 3
FAST_ROUNDS = 15


def _quantize_rows(source: Path, folder: Path) -> tuple[list[dict[str, Any]], str]:
    import llama_cpp

    from core.models.quantize import _threads, quantize_model

    bare_target = str(folder / "bare-Q2_K.gguf")

    def bare() -> None:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q2_K
        params.allow_requantize = True
        params.nthread = _threads()
        assert llama_cpp.llama_model_quantize(str(source).encode(), bare_target.encode(),
                                              params) == 0

    copies: list[str] = []
    mine, theirs = alternate(lambda: copies.append(quantize_model(source, "Q2_K").path), bare,
                              ROUNDS)
    row = figure("quantize SmolLM2-135M Q4_1 -> Q2_K through the lab (child process)", mine,
                 theirs, "bare llama_model_quantize in this process, same type and threads")
    row["copy_mb"] = round(Path(copies[-1]).stat().st_size / 1e6, 1)
    row["source_mb"] = round(source.stat().st_size / 1e6, 1)
    return [row], copies[-1]


def _compare_row(source: Path, copy: str) -> dict[str, Any]:
    import llama_cpp

    from core.engine.quant_compare import DEFAULT_TEXT, compare_models

    results = []

    def bare() -> None:
        ids: list[int] = []
        for path in (str(source), copy):
            llm = llama_cpp.Llama(path, n_ctx=256, n_batch=256, logits_all=True,
                                  n_gpu_layers=0, verbose=False)
            ids = ids or llm.tokenize(DEFAULT_TEXT.encode(), add_bos=False)
            llm.eval(ids)
            llm.close()

    mine, theirs = alternate(lambda: results.append(compare_models(source, copy)), bare,
                              ROUNDS)
    last = results[-1]
    return figure(f"compare original vs Q2_K on {len(last.ids)} tokens (child: two loads, "
                  "logits + 30 residual streams each, KL, flips, drift)", mine, theirs,
                  "bare load of both models with logits_all=True and one eval each",
                  perplexity_original=round(last.perplexity_original, 2),
                  perplexity_quantized=round(last.perplexity_quantized, 2),
                  mean_kl_nats=round(last.mean_kl, 4), flips=last.n_flips,
                  drift_cosine_last_layer=round(float(last.drift_cosine[-1]), 4))


def _neighbour_row(source: Path) -> dict[str, Any]:
    import numpy as np

    from core.engine.token_neighbours import TokenEmbeddings

    table = TokenEmbeddings(source)
    try:
        query = table.unit[4962]  # " seven"

        def bare() -> None:
            scores = table.unit @ query
            best = np.argpartition(-scores, 20)[:20]
            best[np.argsort(-scores[best])]

        mine, theirs = alternate(lambda: table.neighbours("seven", 20), bare, FAST_ROUNDS)
    finally:
        table.close()
    return figure("token neighbours of ' seven' (top 20, pieces, 2D map), 49,152 x 576 matrix",
                  mine, theirs, "bare numpy matrix @ vector + argpartition on the same matrix")


def _sentence_row() -> dict[str, Any]:
    from core.rag.embed import default_embedder
    from core.rag.embedding_map import DEFAULT_SENTENCES, sentence_map

    embedder = default_embedder()
    embedder.load()
    model = embedder._model
    sentences = list(DEFAULT_SENTENCES)
    mine, theirs = alternate(
        lambda: sentence_map(sentences, embedder),
        lambda: model.encode(sentences, normalize_embeddings=True, show_progress_bar=False),
        FAST_ROUNDS)
    return figure("sentence map of the 10 example sentences (similarity matrix + PCA)", mine,
                  theirs, "bare SentenceTransformer.encode of the same sentences")


def run() -> dict[str, Any]:
    source = default_chat_model()
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-quant-") as home:
        previous = os.environ.get("GLASSBOX_HOME")
        os.environ["GLASSBOX_HOME"] = home  # copies go to a throw-away lab folder
        try:
            rows, copy = _quantize_rows(source, Path(home))
            rows.append(_compare_row(source, copy))
        finally:
            if previous is None:
                os.environ.pop("GLASSBOX_HOME", None)
            else:
                os.environ["GLASSBOX_HOME"] = previous
    rows.append(_neighbour_row(source))
    rows.append(_sentence_row())
    return {"name": "quant_lab", "figures": rows}
