"""`glassbox finetune`: train a LoRA adapter on your examples, and measure what it changed.

    glassbox finetune DATA --out NAME [--rank --alpha --epochs --lr --max-length --model M]
    glassbox finetune --resume NAME
    glassbox finetune eval NAME
    glassbox finetune merge NAME [--quant Q4_K_M] [--scale S] [--out PATH]
    glassbox finetune list

DATA is a .jsonl or .csv file, or `chats:ID[,ID...]`, `preset:NAME`, `collection:NAME`.
Progress goes to standard error; with --json the result is one JSON object on standard output.
Adapters live in `<data folder>/adapters/NAME/` (core.finetune.runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from core.cli_shape import command, print_json, warn
from core.errors import GlassboxError, TrainingDataError
from core.finetune import runs
from core.finetune.data import Dataset
from core.finetune.events import Checkpointed, Evaluated, Event, Finished, Progress, Stage, Started
from core.finetune.settings import TrainingSettings, explain

_DEFAULTS = TrainingSettings()


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "finetune", help="train a LoRA adapter on your examples (`finetune eval NAME` "
        "measures it, `finetune list` shows them)",
        description="Fine-tune the base model with LoRA on DATA: a .jsonl file "
        "({\"prompt\",\"response\"} or {\"messages\": [...]} a line), a .csv file (prompt, "
        "response columns), chats:ID[,ID...], preset:NAME or collection:NAME (plain text). "
        "`glassbox finetune eval NAME` compares held-out perplexity with and without it.")
    p.add_argument("data", metavar="DATA", nargs="?",
                   help="training data, or `eval` / `merge` / `list`")
    p.add_argument("name", metavar="NAME", nargs="?", help="with `eval`, `merge`: the adapter")
    p.add_argument("--out", metavar="NAME", help="name of the new adapter; with `merge`: the "
                   "merged GGUF's path (default: merged[-QUANT].gguf in the adapter's folder)")
    p.add_argument("--quant", metavar="TYPE", help="with `merge`: quantize the merged model "
                   "(Q4_K_M, Q8_0, ...); without it changed weights are F16")
    p.add_argument("--scale", type=float, default=1.0, help="with `merge`: the adapter's "
                   "strength (default 1)")
    p.add_argument("--resume", metavar="NAME", help="continue a stopped run from its "
                   "latest checkpoint")
    p.add_argument("--model", metavar="MODEL", help="base model: GGUF file or library name "
                   "(default: the library's default, else the bundled SmolLM2)")
    for flag, field, kind in (("--rank", "rank", int), ("--alpha", "alpha", int),
                              ("--epochs", "epochs", int), ("--lr", "learning_rate", float),
                              ("--max-length", "max_length", int),
                              ("--batch-size", "batch_size", int), ("--seed", "seed", int)):
        p.add_argument(flag, dest=field, type=kind, default=None,
                       help=f"{explain(field)} (default {getattr(_DEFAULTS, field)})")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=run)


@command
def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.data == "eval":
        if not args.name:
            raise GlassboxError("Name the adapter to evaluate: `glassbox finetune eval NAME`.")
        return _evaluate(args.name, args.json, out, err)
    if args.data == "list":
        return _list(args.json, out)
    if args.data == "merge":
        if not args.name:
            raise GlassboxError("Name the adapter to merge: `glassbox finetune merge NAME`.")
        return _merge(args, out, err)
    from core.finetune.job import TrainingJob, with_overrides

    if args.resume:
        job = TrainingJob.open(runs.run_folder(args.resume))
        return _train(job, True, args.json, out, err)
    if not args.data or not args.out:
        raise GlassboxError("Give the training data and a name: "
                            "`glassbox finetune DATA --out NAME`.")
    from core.api import resolve_model
    from core.finetune.data import check_usable

    run_dir = runs.run_folder(args.out)  # a bad name fails before the data is read
    settings = with_overrides(_DEFAULTS, rank=args.rank, alpha=args.alpha, epochs=args.epochs,
                              learning_rate=args.learning_rate, max_length=args.max_length,
                              batch_size=args.batch_size, seed=args.seed)
    dataset = load_source(args.data)
    for problem in dataset.problems[:10]:
        warn(err, f"skipped {problem}")
    if len(dataset.problems) > 10:
        warn(err, f"... and {len(dataset.problems) - 10} more skipped")
    check_usable(dataset)
    job = TrainingJob(settings, dataset, resolve_model(args.model), run_dir)
    split = job.manifest["split"]
    err.write(f"{len(dataset.examples)} examples: {split['train']} to train on, "
              f"{split['held_out']} held out (seed {split['seed']}).\n")
    return _train(job, False, args.json, out, err)


def load_source(spec: str) -> Dataset:
    """A dataset from a file path or `chats:1,2`, `preset:NAME`, `collection:NAME`."""
    kind, _, rest = spec.partition(":")
    if kind == "collection" and rest:
        from core.finetune.data import from_collection

        return from_collection(rest)
    if kind in ("chats", "preset") and rest:
        from core.config import database_path
        from core.finetune.data import from_chats, from_preset
        from core.store import ChatStore

        with ChatStore(database_path()) as store:
            if kind == "preset":
                return from_preset(store.presets.get(rest))
            try:
                ids = [int(part) for part in rest.split(",")]
            except ValueError:
                raise TrainingDataError(f"chats:{rest}: give chat ids, e.g. chats:3,7 "
                                        "(`glassbox chat list` shows them).") from None
            return from_chats(store, ids)
    from core.finetune.data import load_file

    return load_file(Path(spec))


def _progress_line(event: Event) -> str | None:
    if isinstance(event, Stage):
        return f"{event.what}..."
    if isinstance(event, Started):
        resumed = f", resuming after step {event.start_step}" if event.start_step else ""
        enc = event.encoded
        return (f"training {event.total_steps} steps on {event.train_examples} examples "
                f"({enc['tokens']} tokens, {enc['truncated']} cut, {enc['dropped']} dropped"
                f"{resumed}); {event.estimate}; model loaded in {event.load_s:.0f} s")
    if isinstance(event, Progress):
        return (f"step {event.step}/{event.total_steps}  epoch {event.epoch}  loss "
                f"{event.train_loss:.4f}  {event.tokens_per_s:.0f} tok/s  "
                f"~{event.seconds_left:.0f} s left")
    if isinstance(event, Evaluated):
        return f"step {event.step}: held-out loss {event.held_out_loss:.4f}"
    if isinstance(event, Checkpointed):
        return f"step {event.step}: checkpoint saved"
    return None


def _train(job: Any, resume: bool, as_json: bool, out: TextIO, err: TextIO) -> int:
    from core.finetune.pipeline import Outcome, train_and_export

    def report(event: Event) -> None:
        line = _progress_line(event)
        if line:
            err.write(line + "\n")
            err.flush()

    try:
        outcome = train_and_export(job, resume, on_event=report)
    except KeyboardInterrupt:
        job.cancel()
        outcome = Outcome(next((e for e in job.events() if isinstance(e, Finished)), None)
                          or Finished("cancelled", 0, 0))
    finished, gguf = outcome.finished, outcome.adapter_gguf
    if outcome.export_error:
        warn(err, f"the adapter was not converted for llama.cpp: {outcome.export_error}")
    manifest = job.manifest
    if as_json:
        print_json(out, {"name": job.run_dir.name, "status": finished.status,
                         "run_dir": str(job.run_dir), "adapter": finished.adapter_path,
                         "adapter_gguf": gguf, "step": finished.step,
                         "total_steps": finished.total_steps,
                         "held_out_loss": finished.held_out_loss, "error": finished.error,
                         "tokens_per_s": manifest.get("tokens_per_s"),
                         "split": manifest.get("split"), "encoded": manifest.get("encoded")},
                   indent=None)
    elif finished.ok:
        out.write(f"Adapter saved: {finished.adapter_path}\n")
        if gguf:
            out.write(f"For llama.cpp: {gguf}\n")
    if finished.status == "failed":
        raise GlassboxError(finished.error or "Training failed.")
    if finished.status == "cancelled":
        warn(err, f"stopped at step {finished.step}; `glassbox finetune --resume "
                  f"{job.run_dir.name}` continues")
        return 130
    return 0


def _merge(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.finetune.merge import merge_adapter

    run_dir = runs.run_folder(args.name)
    manifest = runs.read_manifest(run_dir)
    adapter = run_dir / runs.GGUF_ADAPTER
    if not adapter.is_file():
        from core.finetune.pipeline import export_gguf

        export_gguf(run_dir)  # a run trained before the exporter was there
    target = Path(args.out) if args.out else \
        run_dir / (f"merged-{args.quant}.gguf" if args.quant else "merged.gguf")
    last = [""]

    def progress(done: int, total: int, what: str) -> None:
        stage = what.split(" ", 1)[0]  # one line per stage, not one per tensor
        if stage != last[0]:
            last[0] = stage
            err.write(f"{what}...\n")
            err.flush()

    path = merge_adapter(Path(manifest["base"]["path"]), adapter, target, scale=args.scale,
                         quant_type=args.quant, progress=progress)
    if args.json:
        print_json(out, {"name": args.name, "merged": str(path), "scale": args.scale,
                         "quant": args.quant, "size": path.stat().st_size}, indent=None)
    else:
        out.write(f"Merged model: {path}\n")
    return 0


def _evaluate(name: str, as_json: bool, out: TextIO, err: TextIO) -> int:
    from core.finetune.evaluate import EvalResult
    from core.models.lab_child import run_in_child

    run_dir = runs.run_folder(name)
    runs.read_manifest(run_dir)  # a clear error for an unknown name, before a child starts

    def progress(done: int, total: int, what: str) -> None:
        if done < total:
            err.write(f"{what}...\n")
            err.flush()

    result: EvalResult = run_in_child("core.finetune.evaluate:evaluate_run", (str(run_dir),),
                                      "evaluating the adapter", progress=progress)
    if as_json:
        print_json(out, {"name": name, **result.to_json()}, indent=None)
    else:
        out.write(f"held-out perplexity without the adapter: {result.perplexity_without:.3f}\n"
                  f"held-out perplexity with the adapter:    {result.perplexity_with:.3f}\n"
                  f"({result.held_out_examples} examples, {result.learned_tokens} tokens)\n")
    return 0


def _list(as_json: bool, out: TextIO) -> int:
    manifests = runs.list_runs()
    if as_json:
        print_json(out, [{k: m.get(k) for k in ("name", "status", "step", "total_steps",
                                                "held_out_loss", "evaluation")}
                         for m in manifests], indent=None)
        return 0
    for m in manifests:
        out.write(f"{m.get('name')}  {m.get('status')}  step {m.get('step')}/"
                  f"{m.get('total_steps')}\n")
    if not manifests:
        out.write("No adapters yet: `glassbox finetune DATA --out NAME` trains one.\n")
    return 0
