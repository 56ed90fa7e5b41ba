"""`glassbox eval run|resume|list|show|export|compare|make-set`: evaluation on the command line."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from core.cli_shape import command, load_settings, print_json
from core.config import evals_path
from core.engine.remote_paths import PREFIX, is_remote
from core.engine.types import lora_from_spec
from core.errors import GlassboxError

if TYPE_CHECKING:
    from core.evals.runs import Subject
    from core.store.evals import EvalStore


def add_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="evaluate models on an eval set (run, resume, list, show, "
                       "export, compare)")
    ev = p.add_subparsers(dest="eval_command", required=True)
    run = ev.add_parser("run", help="run an eval set against one or more subjects")
    run.add_argument("set", help="a .jsonl/.csv file or a starter set name (facts, sentiment, "
                     "json_extract, summaries, multiple_choice)")
    run.add_argument("--model", action="append", default=[], metavar="MODEL",
                     help="a subject: GGUF file, library name or remote:ENGINE/MODEL "
                     "(repeatable; none: the default model)")
    run.add_argument("--lora", action="append", default=[], metavar="PATH[:SCALE]",
                     help="one more subject: the first model with this adapter (repeatable: "
                     "all adapters together)")
    run.add_argument("--preset", action="append", default=[], metavar="NAME",
                     help="one more subject: the first model with this prompt preset")
    run.add_argument("--engine", action="append", default=[], metavar="NAME[/MODEL]",
                     help="one more subject: a saved remote engine's model")
    run.add_argument("--also-temperature", type=float, action="append", default=[],
                     metavar="T", help="one more subject: the first model at temperature T")
    run.add_argument("--metric", action="append", default=[], metavar="M",
                     help="a metric to compute (repeatable; default: those the set supports)")
    run.add_argument("--judge", metavar="MODEL", default=None,
                     help="adds the judge metric, graded by this model (remote:ENGINE/MODEL, "
                     "or 'self' for the subject's engine)")
    run.add_argument("--max-tokens", type=int, default=64)
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--ctx", type=int, default=None, help="context window in tokens")
    run.add_argument("--title", default="")
    run.add_argument("--json", action="store_true", help="print the whole run as JSON")
    resume = ev.add_parser("resume", help="finish a run that was stopped or crashed")
    resume.add_argument("run_id", type=int)
    resume.add_argument("--ctx", type=int, default=None)
    resume.add_argument("--json", action="store_true")
    listing = ev.add_parser("list", help="saved runs")
    listing.add_argument("--json", action="store_true")
    show = ev.add_parser("show", help="a run's summary: means, intervals, significance")
    show.add_argument("run_id", type=int)
    show.add_argument("--json", action="store_true")
    export = ev.add_parser("export", help="every item's result as CSV or JSON")
    export.add_argument("run_id", type=int)
    export.add_argument("--format", choices=("csv", "json"), default="json")
    export.add_argument("-o", "--output", type=Path)
    compare = ev.add_parser("compare", help="two saved runs of the same set, paired")
    compare.add_argument("run_a", type=int)
    compare.add_argument("run_b", type=int)
    compare.add_argument("--json", action="store_true")
    make = ev.add_parser("make-set", help="an eval set from a chat (questions and the answers "
                         "they got) or a saved comparison (its prompt, every column a reference)")
    source = make.add_mutually_exclusive_group(required=True)
    source.add_argument("--chat", type=int, metavar="ID")
    source.add_argument("--comparison", type=int, metavar="ID")
    make.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.jsonl")
    for q in (run, resume, listing, show, export, compare):
        q.set_defaults(func=run_eval_command)
    make.set_defaults(func=make_set_command)


@command
def make_set_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.config import database_path
    from core.evals.from_store import items_from_chat, items_from_comparison, write_set
    from core.store import ChatStore

    with ChatStore(database_path()) as store:
        items = (items_from_chat(store, args.chat) if args.chat is not None
                 else items_from_comparison(store, args.comparison))
    path = write_set(items, args.output)
    out.write(f"Wrote {len(items)} item{'s' * (len(items) != 1)} to {path}; run it with "
              f"`glassbox eval run {path}`.\n")
    return 0


def _subjects(args: argparse.Namespace) -> list[Subject]:
    from dataclasses import replace

    from core.evals.runs import EVAL_SAMPLING, Subject
    from core.models.registry import ModelRegistry

    if args.max_tokens < 1:
        raise GlassboxError("--max-tokens must be at least 1.")
    sampling = replace(EVAL_SAMPLING, max_tokens=args.max_tokens, temperature=args.temperature)

    def model_of(name: str | None) -> str | None:
        if name is None or is_remote(name):
            return name
        return str(ModelRegistry().resolve(name))

    def label_of(model: str | None) -> str:
        if model is None:
            return "default model"
        return model[len(PREFIX):] if is_remote(model) else Path(model).stem

    models = [model_of(name) for name in args.model] or [None]
    subjects = [Subject(label_of(x), x, sampling=sampling) for x in models]
    base = subjects[0]
    if args.lora:
        if is_remote(base.model):
            raise GlassboxError("--lora needs a local model: a remote engine cannot load "
                                "adapter files.")
        loras = tuple(lora_from_spec(spec) for spec in args.lora)
        names = "+".join(f"{Path(p).stem}@{s:g}" for p, s in loras)
        subjects.append(replace(base, label=f"{base.label} + {names}", loras=loras))
    if args.preset:
        from core.cli_prompts import _open_store

        store = _open_store()
        try:
            for name in args.preset:
                preset = store.presets.get(name)
                subjects.append(replace(base, label=f"{base.label} · {name}", preset=name,
                                        preamble=tuple(preset.render())))
        finally:
            store.close()
    for t in args.also_temperature:
        subjects.append(replace(base, label=f"{base.label} · T={t:g}",
                                sampling=replace(sampling, temperature=t)))
    for name in args.engine:
        path = name if is_remote(name) else PREFIX + name
        subjects.append(replace(base, label=label_of(path), model=path, loras=()))
    return subjects


@command
def run_eval_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.store.evals import EvalStore

    with EvalStore(evals_path()) as store:
        what = args.eval_command
        if what == "run":
            return _run(args, store, out, err)
        if what == "resume":
            return _resume(args, store, out, err, args.run_id)
        if what == "list":
            return _list(args, store, out)
        if what == "show":
            return _show(args, store, out, args.run_id)
        if what == "export":
            return _export(args, store, out)
        return _compare(args, store, out)


def _run(args: argparse.Namespace, store: EvalStore, out: TextIO, err: TextIO) -> int:
    from core.evals.runs import check_metrics, default_metrics, start_run
    from core.evals.sets import load_set

    eval_set = load_set(args.set)
    subjects = _subjects(args)
    metrics = check_metrics(args.metric) if args.metric else default_metrics(eval_set)
    options: dict[str, Any] = {}
    if args.judge:
        metrics = [*metrics, "judge"] if "judge" not in metrics else metrics
        options["judge"] = args.judge
    run = start_run(store, eval_set, subjects, metrics, options, args.title)
    if not args.json:
        err.write(f"Run {run.id}: {eval_set.name} ({len(eval_set)} items) × "
                  f"{len(subjects)} subject(s); `glassbox eval resume {run.id}` continues it "
                  "if it stops.\n")
    return _resume(args, store, out, err, run.id)


def _resume(args: argparse.Namespace, store: EvalStore, out: TextIO, err: TextIO,
            run_id: int) -> int:
    from core import api
    from core.evals.runs import ItemFailed, ItemScored, Subject, SubjectFailed
    from core.evals.session import evaluate

    run = store.get(run_id)
    subjects = [Subject.from_json(s) for s in run.subjects]
    settings = load_settings(args)
    engine = api.EngineClient()
    try:
        failures = 0
        for event in evaluate(engine, store, run_id, settings):
            if isinstance(event, ItemScored) and not args.json:
                shown = ", ".join(f"{k} {v:.3g}" for k, v in event.scores.items())
                err.write(f"[{event.done}/{event.total}] {subjects[event.subject].label} "
                          f"{event.item_id}: {shown}\n")
            elif isinstance(event, (ItemFailed, SubjectFailed)):
                failures += 1
                err.write(f"{subjects[event.subject].label}: {event.message}\n")
    finally:
        engine.close()
    _show(args, store, out, run_id)
    return 0 if store.get(run_id).status == "complete" and not failures else 1


def _list(args: argparse.Namespace, store: EvalStore, out: TextIO) -> int:
    runs = store.list()
    if args.json:
        print_json(out, [{"id": r.id, "title": r.title, "set": r.set_name, "status": r.status,
                          "subjects": [s["label"] for s in r.subjects],
                          "created_at": r.created_at} for r in runs])
        return 0
    for r in runs:
        out.write(f"{r.id:5}  {r.status:10}  {r.title}\n")
    return 0


def _show(args: argparse.Namespace, store: EvalStore, out: TextIO, run_id: int) -> int:
    from core.evals.report import run_json, significance, summarise

    run = store.get(run_id)
    results = store.results(run_id)
    if getattr(args, "json", False):
        print_json(out, run_json(run, results), indent=None)
        return 0
    out.write(f"Run {run.id} · {run.title} · {run.status}\n")
    for s in summarise(run, results):
        out.write(f"\n{s.label}: {s.completed} items ({s.failed} failed), "
                  f"{s.items_per_s:.2f} items/s\n")
        for x in s.metrics:
            i = x.interval
            value = "—" if math.isnan(i.value) else (
                f"{i.value:.3f}  [{i.low:.3f}, {i.high:.3f}]  n={i.n}")
            extra = f"  corpus {x.corpus:.2f}" if x.corpus is not None else ""
            extra += f"  tokenizer {x.tokenizer}" if x.tokenizer else ""
            extra += f"  skipped {x.skipped}" if x.skipped else ""
            extra += f"  unparsed {x.unparsed}" if x.unparsed else ""
            out.write(f"  {x.metric:16} {value}{extra}\n")
    for note in significance(run, results):
        out.write(f"! {note['note']}\n" if note["significant"] else f"  {note['note']}\n")
    return 0


def _export(args: argparse.Namespace, store: EvalStore, out: TextIO) -> int:
    import json

    from core.evals.report import run_csv, run_json

    run = store.get(args.run_id)
    results = store.results(args.run_id)
    text = (run_csv(run, results) if args.format == "csv"
            else json.dumps(run_json(run, results), ensure_ascii=False, indent=2) + "\n")
    if args.output is None:
        out.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def _compare(args: argparse.Namespace, store: EvalStore, out: TextIO) -> int:
    from core.evals.report import compare_runs

    a, b = store.get(args.run_a), store.get(args.run_b)
    if a.set_digest != b.set_digest:
        out.write("note: the two runs used different versions of the set; only items with "
                  "the same id are paired.\n")
    rows = compare_runs(a, store.results(a.id), b, store.results(b.id))
    if args.json:
        print_json(out, rows, indent=None)
        return 0
    for row in rows:
        out.write(f"{row['note']}\n")
    return 0
