"""`glassbox inspect tokens|next|surprise|attention|lens|anatomy`: the Learn panels' numbers on
the command line."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from core import cli_attribution
from core.cli_shape import add_model_options, command, start_engine
from core.engine.attention_plan import CELL_BUDGET, plan_for_text
from core.engine.client import EngineClient
from core.engine.types import SamplingSettings

_DEFAULTS = SamplingSettings()


def add_parser(sub: Any) -> None:
    inspect = sub.add_parser("inspect", help="look inside the model: tokens, next token, surprise")
    inspect.set_defaults(func=run)
    views = inspect.add_subparsers(dest="view", required=True)
    tokens = views.add_parser("tokens", help="how the model splits a text into tokens")
    tokens.add_argument("text")
    tokens.add_argument("--no-special", action="store_true",
                        help="treat <|tags|> as plain text, not special tokens")
    nxt = views.add_parser("next", help="the most likely next tokens after a prompt")
    nxt.add_argument("prompt")
    nxt.add_argument("--top", type=int, default=10)
    nxt.add_argument("--top-k", type=int, default=_DEFAULTS.top_k)
    nxt.add_argument("--top-p", type=float, default=_DEFAULTS.top_p)
    nxt.add_argument("--min-p", type=float, default=_DEFAULTS.min_p)
    nxt.add_argument("--repeat-penalty", type=float, default=_DEFAULTS.repeat_penalty)
    surprise = views.add_parser("surprise", help="how expected each token of a text was")
    surprise.add_argument("source", help="a file path, or the text itself")
    surprise.add_argument("--top", type=int, default=5)
    attention = views.add_parser("attention", help="attention of every layer and head")
    attention.add_argument("text")
    attention.add_argument("--layer", type=int, action="append", metavar="L",
                           help="only this layer (repeatable; default: all)")
    lens = views.add_parser("lens", help="logit lens: each layer's guess at the next token")
    lens.add_argument("text")
    lens.add_argument("--layer", type=int, action="append", metavar="L",
                      help="only this layer (repeatable; default: all)")
    lens.add_argument("--top", type=int, default=1, help="candidates per cell in the JSON")
    for p in (tokens, nxt, surprise, attention, lens):
        p.add_argument("--json", action="store_true", help="print JSON")
        add_model_options(p)
    anatomy = views.add_parser("anatomy", help="metadata, architecture and tensors of a GGUF")
    # The positional MODEL is what `glassbox` loads for inspect commands (args.model).
    anatomy.add_argument("model", nargs="?", metavar="MODEL",
                         help="GGUF file or library model name (default: the default model)")
    anatomy.add_argument("--histogram", metavar="TENSOR", help="histogram of one tensor")
    anatomy.add_argument("--bins", type=int, default=32)
    anatomy.add_argument("--json", action="store_true", help="print JSON")
    anatomy.set_defaults(ctx=512)
    cli_attribution.add_view(views)
    from core.cli_steer import add_steer_parser  # `inspect steer`: its own module

    add_steer_parser(views)


def _tokens(engine: EngineClient, args: argparse.Namespace) -> tuple[Any, str]:
    pieces = engine.tokenize(args.text, special=not args.no_special)
    data = [{"id": p.id, "piece": p.text, "bytes_hex": p.bytes_hex} for p in pieces]
    lines = [f"{p.id:>7}  {p.text!r}" for p in pieces]
    lines.append(f"{len(pieces)} tokens, {len(args.text)} characters")
    return data, "\n".join(lines)


def _next(engine: EngineClient, args: argparse.Namespace) -> tuple[Any, str]:
    sampling = SamplingSettings(temperature=args.temperature, top_k=args.top_k,
                                top_p=args.top_p, min_p=args.min_p,
                                repeat_penalty=args.repeat_penalty)
    view = engine.next_token(args.prompt, sampling, top=args.top)
    # The distribution at the chosen temperature over the whole vocabulary: at 1.0 it is the
    # model's own softmax. The text view adds what each sampler stage leaves.
    data = [{"id": c.id, "piece": c.piece, "prob": c.prob} for c in view.scaled]
    lines = [f"{c.prob:7.2%}  {c.piece!r}" for c in view.scaled]
    lines.append(f"entropy {view.entropy_bits:.2f} bits")
    lines += [f"after {s.name:<11} {s.kept:>6} candidates" for s in view.stages[1:]]
    return data, "\n".join(lines)


def _surprise(engine: EngineClient, args: argparse.Namespace) -> tuple[Any, str]:
    path = Path(args.source)
    text = path.read_text(encoding="utf-8") if len(args.source) < 4096 and path.is_file() \
        else args.source
    view = engine.surprise(text, top=args.top)
    data = {
        "tokens": [{"id": t.id, "piece": t.piece, "logprob": t.logprob,
                    "top": [{"id": c.id, "piece": c.piece, "prob": c.prob} for c in t.top]}
                   for t in view.tokens],
        "perplexity": view.perplexity,
    }
    lines = [f"{t.logprob:8.3f}  {t.piece!r}" for t in view.tokens]
    lines.append(f"perplexity {view.perplexity:.2f}")
    return data, "\n".join(lines)


def _attention(engine: EngineClient, args: argparse.Namespace) -> tuple[Any, str]:
    # The Attention panel's memory budget: a long text averages heads, then thins layers.
    summary = engine.anatomy().summary
    sized = plan_for_text(engine.tokenize(args.text, special=False), summary.n_layer,
                          summary.n_head, layers=args.layer)
    view = engine.attention(args.text, **sized.plan.kwargs())
    pieces = [t.text for t in view.tokens]
    # Five decimals: a 30-layer, 9-head, 128-token capture is already about 40 MB of JSON.
    data = {"tokens": pieces, "layers": view.layers, "heads_averaged": view.heads_averaged,
            "attention": view.attention.astype("float64").round(5).tolist()}
    last = len(pieces) - 1
    heads = "heads averaged" if view.heads_averaged else f"{view.attention.shape[1]} heads"
    lines = [f"{len(pieces)} tokens, {len(view.layers)} layers x {heads}; what the last "
             f"token {pieces[last]!r} attends to (mean over heads):"]
    if sized.plan.mean_heads or len(view.layers) < sized.n_layer:
        lines.append(f"(a long text: parts were left out to keep the capture under "
                     f"{CELL_BUDGET:,} values, as in the app's Attention panel)")
    for i, layer in enumerate(view.layers):
        row = view.head_mean()[i, last - view.query_start]
        best = row.argsort()[::-1][:3]
        lines.append(f"layer {layer:>3}  " + "  ".join(f"{pieces[k]!r} {row[k]:.2f}"
                                                        for k in best))
    return data, "\n".join(lines)


def _lens(engine: EngineClient, args: argparse.Namespace) -> tuple[Any, str]:
    view = engine.logit_lens(args.text, layers=args.layer, top=max(1, args.top))

    def cell(c: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"piece": c.piece, "prob": c.prob}
        if args.top > 1:
            out["top"] = [{"piece": t.piece, "prob": t.prob} for t in c.top]
        return out

    data = {"tokens": [t.text for t in view.tokens], "layers": view.layers,
            "lens": [[cell(c) for c in row] for row in view.cells],
            "actual": [cell(c) for c in view.actual]}
    lines = [f"after {t.text!r}: " + " -> ".join(
        f"{view.cells[i][p].piece!r}" for i in range(0, len(view.layers),
                                                     max(1, len(view.layers) // 6)))
        + f" -> model {view.actual[p].piece!r} {view.actual[p].prob:.0%}"
        for p, t in enumerate(view.tokens)]
    return data, "\n".join(lines)


def _anatomy(engine: EngineClient, args: argparse.Namespace) -> tuple[Any, str]:
    from core.models.metadata import format_bytes, format_parameters

    if args.histogram:
        hist = engine.weight_histogram(args.histogram, bins=args.bins)
        data: Any = {"tensor": hist.tensor, "type": hist.type_name, "n_values": hist.n_values,
                     "min": hist.minimum, "max": hist.maximum, "mean": hist.mean,
                     "std": hist.std, "counts": hist.counts.tolist(),
                     "edges": hist.edges.tolist()}
        peak = max(int(hist.counts.max()), 1)
        lines = [f"{hist.tensor} ({hist.type_name}, {hist.n_values:,} values, mean "
                 f"{hist.mean:.4f}, std {hist.std:.4f})"]
        lines += [f"{lo:+9.4f}  {'#' * round(40 * n / peak)} {n:,}"
                  for lo, n in zip(hist.edges[:-1], hist.counts.tolist(), strict=True)]
        return data, "\n".join(lines)
    view = engine.anatomy()
    data = {"path": view.path, "file_size": view.file_size,
            "parameter_count": view.parameter_count, "summary": asdict(view.summary),
            "metadata": view.metadata,
            "tensors": [{"name": t.name, "shape": list(t.shape), "type": t.type_name,
                         "n_elements": t.n_elements, "bytes": t.n_bytes,
                         "bits_per_weight": round(t.bits_per_weight, 4)}
                        for t in view.tensors]}
    s = view.summary
    lines = [f"{Path(view.path).name}: {s.architecture}, "
             f"{format_parameters(view.parameter_count)} parameters, "
             f"{format_bytes(view.file_size)}"]
    lines += [f"  {k:<22} {v}" for k, v in asdict(s).items() if k != "architecture"]
    lines += [f"  {t.name:<32} {'x'.join(map(str, t.shape)):>14} {t.type_name:>6} "
              f"{t.bits_per_weight:5.2f} bpw {format_bytes(t.n_bytes):>9}" for t in view.tensors]
    return data, "\n".join(lines)


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Load the model (`args.model`, with the saved load settings) and show one view."""
    with start_engine(args) as engine:
        return show(args, engine, out)


def show(args: argparse.Namespace, engine: EngineClient, out: TextIO) -> int:
    """One view of a model already loaded in `engine`, written to `out`."""
    from core.cli_steer import steer_view

    handler = {"tokens": _tokens, "next": _next, "surprise": _surprise,
               "attention": _attention, "lens": _lens, "anatomy": _anatomy,
               "steer": steer_view}[args.view]
    data, text = handler(engine, args)
    out.write((json.dumps(data, ensure_ascii=False) if args.json else text) + "\n")
    return 0
