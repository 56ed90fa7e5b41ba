"""Driving a saved run for a caller that holds an engine (the CLI, the Evaluate tab), and the
plain views of a run and a set those callers show.

`evaluate` is the one place that turns a stored run's options into the callbacks `run_eval`
needs (load a subject's model with the user's load settings, open a saved remote engine, open
and close the judge), so the CLI and the window resume a run exactly alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.engine.remote_paths import is_remote
from core.errors import GlassboxError
from core.evals.runs import EvalEvent, Subject, run_eval
from core.evals.sets import EvalSet, EvalSetError, iter_items, load_set

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.models.load_settings import LoadSettings
    from core.store.evals import EvalStore, StoredResult, StoredRun


def evaluate(engine: EngineClient, store: EvalStore, run_id: int, settings: LoadSettings, *,
             should_stop: Callable[[], bool] = lambda: False,
             open_remote: Callable[[str], Any] | None = None) -> Iterator[EvalEvent]:
    """Run (or resume) run `run_id` on `engine`, loading models with `settings`. A subject
    without a model of its own uses the library's default model. The judge named in the run's
    options ("self" or remote:ENGINE/MODEL) is opened here and closed at the end."""
    from core.engine.loading import load_model
    from core.models.registry import ModelRegistry

    run = store.get(run_id)
    subjects = [Subject.from_json(s) for s in run.subjects]
    if open_remote is None:
        from core.remote_engines import EngineRegistry

        open_remote = EngineRegistry().open
    if engine.model is None and any(s.model is None for s in subjects):
        load_model(engine, ModelRegistry().resolve(None), settings)
    judge_spec = run.options.get("judge")
    judge_engine: Any = None
    if judge_spec == "self":
        judge_engine = engine
    elif judge_spec:
        if not is_remote(judge_spec):
            raise GlassboxError("--judge takes remote:ENGINE/MODEL or 'self'.")
        judge_engine = open_remote(judge_spec)
    try:
        yield from run_eval(engine, store, run_id, should_stop=should_stop,
                            load=lambda path, loras: load_model(engine, path, settings,
                                                                list(loras)),
                            open_remote=open_remote, judge_engine=judge_engine)
    finally:
        if judge_engine is not None and judge_engine is not engine:
            judge_engine.close()


def first_items(eval_set: EvalSet, limit: int, folder: Path) -> EvalSet:
    """The set's first `limit` items as a set of their own, written to `folder` (a run reads
    its set from a file, and resuming checks that file's digest, so the trimmed set must be a
    file too; the same trim writes the same bytes, so runs of it resume and pair)."""
    if limit <= 0 or limit >= len(eval_set):
        return eval_set
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{eval_set.name}-first{limit}.jsonl"
    text = "".join(json.dumps(item.to_json(), ensure_ascii=False) + "\n"
                   for item in eval_set.items[:limit])
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return load_set(path)


def run_overview(run: StoredRun, results: Sequence[StoredResult]) -> dict[str, Any]:
    """Everything the Evaluate tab shows of a run, as plain data: the matrix (mean and
    interval per subject and metric), the significance notes, and each item with its prompt,
    references and every subject's reply and scores."""
    from core.evals import metrics as m
    from core.evals.report import significance, summarise

    prompts: dict[str, str] = {}
    try:
        prompts = {item.id: item.prompt for item in iter_items(run.set_path)}
    except EvalSetError:
        pass  # the set file is gone: replies and scores still show
    items: dict[str, dict[str, Any]] = {}
    for r in sorted(results, key=lambda r: (r.position, r.subject)):
        entry = items.setdefault(r.item_id, {
            "id": r.item_id, "prompt": prompts.get(r.item_id, ""), "references": [],
            "replies": {}})
        entry["references"] = entry["references"] or list(r.detail.get("references", []))
        entry["replies"][r.subject] = {"reply": r.reply, "scores": r.scores,
                                       "status": r.status,
                                       "error": r.detail.get("error", "")}
    return {
        "id": run.id, "title": run.title, "status": run.status, "set": run.set_name,
        "metrics": list(run.metrics),
        "explanations": {k: m.EXPLANATIONS[k] for k in run.metrics},
        "subjects": [s["label"] for s in run.subjects],
        "summary": [asdict(s) for s in summarise(run, results)],
        "significance": [{"note": n["note"], "significant": n["significant"]}
                         for n in significance(run, results)],
        "items": list(items.values()),
    }


def set_choices(path: str | Path) -> dict[str, Any]:
    """What the Evaluate tab needs to offer a set: its name, size and default metrics."""
    from core.evals.runs import default_metrics

    eval_set = load_set(path)
    return {"name": eval_set.name, "path": eval_set.path, "size": len(eval_set),
            "metrics": default_metrics(eval_set)}


def catalog() -> dict[str, Any]:
    """The starter sets (smallest first) and every metric with its one-sentence explanation."""
    from core.evals.metrics import EXPLANATIONS
    from core.evals.sets import starter_sets

    sets = sorted((set_choices(p) for p in starter_sets()), key=lambda s: (s["size"], s["name"]))
    return {"sets": sets, "explanations": dict(EXPLANATIONS)}


def subjects_from(models: Sequence[tuple[str, str]], max_tokens: int) -> list[Subject]:
    """Subjects for (label, model path) pairs, greedy with replies of `max_tokens` tokens."""
    from dataclasses import replace

    from core.evals.runs import EVAL_SAMPLING

    sampling = replace(EVAL_SAMPLING, max_tokens=max_tokens)
    return [Subject(label, path, sampling=sampling) for label, path in models]
