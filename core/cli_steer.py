"""`glassbox inspect steer` (the steering lab on the command line) and `--control-vector` for
ask, chat and serve."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core.engine.client import EngineClient
from core.engine.steering_types import DEFAULT_STRENGTHS, SteeringPair
from core.errors import GlassboxError, SteeringError


def add_steer_parser(views: Any) -> None:
    steer = views.add_parser("steer", help="steer the model with a direction built from "
                             "contrastive pairs, and show replies at several strengths")
    steer.add_argument("prompt")
    steer.add_argument("--pairs", required=True, metavar="FILE",
                       help='JSON lines {"positive": "...", "negative": "..."}')
    steer.add_argument("--layers", type=layer_range, default=None, metavar="A-B",
                       help="layers to steer, inclusive (default: the middle third)")
    steer.add_argument("--strength", type=float, action="append", metavar="S",
                       help="strength from -2 to 2 (repeatable; strength 0 is always shown "
                       "as the baseline; default: -2 -1 0 1 2)")
    steer.add_argument("--method", choices=("mean", "pca"), default="mean")
    steer.add_argument("--reply-tokens", type=int, default=40, metavar="N",
                       help="greedy reply length at each strength")
    steer.add_argument("--save", metavar="FILE.gguf",
                       help="write the direction as a llama.cpp control vector")
    steer.add_argument("--json", action="store_true", help="print JSON")
    from core.cli_shape import add_model_options

    add_model_options(steer)


def add_control_vector_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--control-vector", type=control_vector_spec, default=None,
                   metavar="FILE[:STRENGTH]", help="steer every reply with this llama.cpp "
                   "control vector (GGUF) at STRENGTH (default 1), over the layers saved in "
                   "it (all of them for files from llama.cpp's cvector-generator)")


def layer_range(value: str) -> tuple[int, int]:
    try:
        start, _, end = value.partition("-")
        return int(start), int(end or start)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a layer range like 8-20.") from None


def control_vector_spec(value: str) -> tuple[str, float]:
    path, sep, tail = value.rpartition(":")
    if sep:
        try:
            return path, float(tail)
        except ValueError:
            pass  # a colon inside the path (C:\...), no strength
    return value, 1.0


def with_control_vector(engine: EngineClient, args: argparse.Namespace) -> EngineClient:
    """`engine` with `--control-vector` applied (closed, and the error raised, if refused)."""
    spec = getattr(args, "control_vector", None)
    if spec is None:
        return engine
    try:
        if getattr(args, "engine", None):
            raise GlassboxError("--control-vector needs a local model: a remote engine "
                                "cannot load control vector files.")
        engine.set_control_vector(spec[0], spec[1])
    except BaseException:
        engine.close()
        raise
    return engine


def read_pairs(path: str | Path) -> list[SteeringPair]:
    """Pairs from a JSON-lines file; a bad line is named with its number."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SteeringError(f"Cannot read the pairs file {file}: {exc}") from exc
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairs.append(SteeringPair(str(row["positive"]), str(row["negative"])))
        except (ValueError, KeyError, TypeError):
            raise SteeringError(f"{file.name} line {number} is not "
                                '{"positive": "...", "negative": "..."}.') from None
    if not pairs:
        raise SteeringError(f"{file.name} holds no pairs.")
    return pairs


def steer_view(engine: EngineClient, args: argparse.Namespace) -> tuple[Any, str]:
    from core.engine import control_vector

    pairs = read_pairs(args.pairs)
    direction = engine.build_steering(pairs, method=args.method)
    strengths = sorted(set(args.strength or DEFAULT_STRENGTHS) | {0.0})
    run = engine.steer(direction, args.prompt, args.layers, strengths, args.reply_tokens)
    saved = None
    if args.save:
        saved = str(control_vector.save(direction, args.save, run.layers))
    data = {"prompt": run.prompt, "layers": list(run.layers), "pairs": direction.n_pairs,
            "method": direction.method, "note": direction.note, "saved": saved,
            "separation": [asdict(s) for s in direction.separation],
            "projection_layer": run.projection_layer,
            "replies": [{"strength": r.strength, "text": r.text, "degenerate": r.degenerate,
                         "entropy_bits": r.entropy_bits,
                         "repeated_share": r.repeated_share,
                         "next_tokens": [{"piece": t.piece, "prob": t.prob, "shift": t.shift}
                                         for t in r.top],
                         "projection": list(r.projection)} for r in run.replies]}
    return data, _text(data)


def _text(data: dict[str, Any]) -> str:
    lines = [f"{data['pairs']} pairs, layers {data['layers'][0]}-{data['layers'][1]}"]
    if data["note"]:
        lines.append(data["note"])
    scored = [s for s in data["separation"] if s["accuracy"] is not None]
    if scored:
        best = max(scored, key=lambda s: (s["accuracy"], s["effect"] or 0.0))
        lines.append(f"best-separating layer {best['layer']}: held-out accuracy "
                     f"{best['accuracy']:.0%}, d = {best['effect'] or 0.0:.2f}")
    for reply in data["replies"]:
        flag = f"  [degenerate: {reply['degenerate']}]" if reply["degenerate"] else ""
        lines.append(f"\nstrength {reply['strength']:+.1f}{flag}\n  {reply['text'].strip()}")
        shifts = ", ".join(f"{t['piece']!r} {t['prob']:.2f} ({t['shift']:+.2f})"
                           for t in reply["next_tokens"][:4])
        lines.append(f"  next token: {shifts}")
    if data["saved"]:
        lines.append(f"\ncontrol vector written to {data['saved']}")
    return "\n".join(lines)
