"""`glassbox learn tiny-gpt TEXT --steps N --out NAME [--json]`: train a tiny transformer on a
text with the chat model's tokenizer, export it as a GGUF and add it to the model library.

TEXT is a file, `sample[:NAME]` (a text shipped with Glassbox), `collection:NAME` or `chat:ID`.
Progress goes to standard error; with --json the result is one JSON object on standard output:
the settings, the losses (train per step, held-out every --eval-every steps), the samples, the
unigram entropy the held-out loss is measured against, and the GGUF's path and library name.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, TextIO

from core.cli_shape import command, print_json
from core.errors import FoundationsError
from core.foundations.tiny_model import TinyConfig

_DEFAULTS = TinyConfig()
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def add_parser(labs: Any) -> None:
    p = labs.add_parser("tiny-gpt", help="train a tiny transformer on a text and export it "
                        "as a GGUF the other Learn panels can open",
                        description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("text", metavar="TEXT", help="a text file, sample[:NAME], "
                   "collection:NAME or chat:ID")
    p.add_argument("--out", metavar="NAME", required=True, help="name of the model (its run "
                   "folder, GGUF file and library entry)")
    p.add_argument("--model", metavar="MODEL", help="whose tokenizer to use: GGUF file or "
                   "library name (default: the chat model)")
    for flag, field, kind in (("--steps", "steps", int), ("--layers", "layers", int),
                              ("--heads", "heads", int), ("--width", "width", int),
                              ("--context", "context", int),
                              ("--batch-size", "batch_size", int),
                              ("--lr", "learning_rate", float),
                              ("--eval-every", "eval_every", int),
                              ("--sample-every", "sample_every", int), ("--seed", "seed", int)):
        p.add_argument(flag, dest=field, type=kind, default=getattr(_DEFAULTS, field),
                       help=f"(default {getattr(_DEFAULTS, field)})")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=run)


def run_folder(name: str) -> Path:
    """Where the run called `name` keeps its checkpoint (FoundationsError for a bad name)."""
    from core.config import data_home

    if not _NAME.match(name):
        raise FoundationsError(f"{name!r} cannot name a model: use letters, digits, '-', '_' "
                               "or '.', up to 64 characters.")
    return data_home() / "foundations" / "tiny" / name


def _number(value: float) -> float | str:
    # JSON has no NaN: a diverged loss is written as the word
    return round(value, 5) if value == value and abs(value) != float("inf") else str(value)


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.api import resolve_model
    from core.foundations import tiny_events as ev
    from core.foundations.tiny_gguf import export_to_library
    from core.foundations.tiny_sources import describe, load_text
    from core.foundations.tiny_train import train

    config = TinyConfig(**{k: getattr(args, k) for k in (
        "steps", "layers", "heads", "width", "context", "batch_size", "learning_rate",
        "eval_every", "sample_every", "seed")})
    folder = run_folder(args.out)
    text = load_text(args.text)
    tokenizer = resolve_model(args.model)
    result: dict[str, Any] = {"name": args.out, "text": describe(args.text),
                              "settings": config.to_json(), "train_loss": [],
                              "held_out_loss": [], "samples": []}
    end: ev.Finished | None = None
    for event in train(config, text, tokenizer, folder):
        if isinstance(event, ev.Started):
            result.update(parameters=event.parameters,
                          exported_parameters=event.exported_parameters,
                          train_tokens=event.train_tokens, held_out_tokens=event.held_out_tokens,
                          unigram_entropy=round(event.unigram_entropy, 5))
            err.write(f"{event.parameters:,} parameters; {event.train_tokens} tokens to learn "
                      f"from, {event.held_out_tokens} held out (token frequencies alone "
                      f"reach a loss of {event.unigram_entropy:.3f}).\n")
        elif isinstance(event, ev.Step):
            result["train_loss"].append(_number(event.train_loss))
            result["tokens_per_s"] = round(event.tokens_per_s, 1)
        elif isinstance(event, ev.HeldOut):
            result["held_out_loss"].append({"step": event.step, "loss": _number(event.loss)})
            err.write(f"step {event.step}/{config.steps}  held-out loss {event.loss:.4f}\n")
        elif isinstance(event, ev.Sample):
            result["samples"].append({"step": event.step, "text": event.text})
            err.write(f"sample at step {event.step}: {event.prompt}{event.text!r}\n")
        elif isinstance(event, ev.Finished):
            end = event
    assert end is not None  # train always ends with a Finished
    result.update(status=end.status, message=end.message, checkpoint=end.checkpoint)
    if end.ok and end.checkpoint:
        path, library_name = export_to_library(end.checkpoint, args.out)
        result.update(gguf=str(path), library_name=library_name)
        err.write(f"exported {path} (library name {result['library_name']}).\n")
    if args.json:
        print_json(out, result)
    else:
        out.write(f"{end.message}\n")
        if "gguf" in result:
            out.write(f"GGUF: {result['gguf']}\n")
    if not end.ok:
        raise FoundationsError(end.message)
    return 0
