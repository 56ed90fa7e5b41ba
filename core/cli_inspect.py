"""`glassbox inspect tokens|next|surprise`: the Learn panels' numbers on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.engine.client import EngineClient
from core.engine.types import SamplingSettings

_DEFAULTS = SamplingSettings()


def add_parser(sub: Any, add_model_options: Any) -> None:
    inspect = sub.add_parser("inspect", help="look inside the model: tokens, next token, surprise")
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
    for p in (tokens, nxt, surprise):
        p.add_argument("--json", action="store_true", help="print JSON")
        add_model_options(p)


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


def run(args: argparse.Namespace, engine: EngineClient) -> int:
    handler = {"tokens": _tokens, "next": _next, "surprise": _surprise}[args.view]
    data, text = handler(engine, args)
    print(json.dumps(data, ensure_ascii=False) if args.json else text, file=sys.stdout)
    return 0
