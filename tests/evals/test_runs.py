"""Evaluation against the bundled model: multiple choice equals Surprise, runs survive crashes
and resume, cancel stops, and the CLI runs a set against the model and a quantized copy."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path

import pytest

from core.cli import main
from core.engine.client import EngineClient
from core.engine.types import ChatMessage
from core.evals.runs import (
    EVAL_SAMPLING,
    ItemScored,
    RunFinished,
    RunStarted,
    Subject,
    SubjectFailed,
    run_eval,
    start_run,
)
from core.evals.sets import load_set
from core.store.evals import EvalStore

ITEMS = [
    {"id": "f1", "prompt": "What is the capital of France? Name only.", "references": ["Paris"]},
    {"id": "f2", "prompt": "How many legs does a spider have? Number only.",
     "references": ["8", "eight"]},
    {"id": "s1", "prompt": "Is 'I loved it' positive or negative? One word.",
     "label": "positive"},
    {"id": "m1", "prompt": "Which animal is a mammal?", "choices": ["shark", "dolphin"],
     "answer": 1},
]


def _set(tmp_path: Path, items: list[dict[str, object]] = ITEMS) -> Path:
    path = tmp_path / "tiny.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    return path


def _subject(model_path: Path) -> Subject:
    from dataclasses import replace

    return Subject("smollm2", str(model_path), sampling=replace(EVAL_SAMPLING, max_tokens=6))


def test_choice_loglik_equals_surprise(engine: EngineClient) -> None:
    context = [ChatMessage("user", "Which planet is known as the Red Planet?")]
    choices = ["Mars", "Venus", "Neptune, far away"]
    timings = {}
    results = {}
    for reuse in (True, False):
        started = time.perf_counter()
        results[reuse] = engine.score_continuations(choices, context=context,
                                                    reuse_prefix=reuse)
        timings[reuse] = time.perf_counter() - started
    assert results[True].reused_prompt and not results[False].reused_prompt
    for with_cache, without, text in zip(results[True].choices, results[False].choices,
                                         choices, strict=True):
        view = engine.surprise(text, context=context)
        expected = [t.logprob for t in view.tokens]
        assert list(with_cache.token_ids) == [t.id for t in view.tokens]
        assert with_cache.logprobs == pytest.approx(expected, abs=1e-4)
        assert without.logprobs == pytest.approx(expected, abs=1e-4)
        assert with_cache.total < 0
    print(f"3 choices: {timings[True]:.3f} s with the prompt's cache, "
          f"{timings[False]:.3f} s without")


def test_run_is_kept_after_an_engine_crash_and_resumes(engine: EngineClient, model_path: Path,
                                                       tmp_path: Path) -> None:
    eval_set = load_set(_set(tmp_path))
    with EvalStore(tmp_path / "db.sqlite3") as store:
        run = start_run(store, eval_set, [_subject(model_path)])
        assert "exact_match" in run.metrics and "choice_acc" in run.metrics
        events = []
        for event in run_eval(engine, store, run.id):
            events.append(event)
            if isinstance(event, ItemScored) and event.done == 2:
                os.kill(engine.pid or 0, signal.SIGKILL)  # the engine dies mid-run
        assert any(isinstance(e, SubjectFailed) for e in events)
        assert isinstance(events[-1], RunFinished) and events[-1].status == "incomplete"
        kept = store.results(run.id)
        assert [r.item_id for r in kept] == ["f1", "f2"]
        assert store.get(run.id).status == "incomplete"

        resumed = list(run_eval(engine, store, run.id))
        assert isinstance(resumed[0], RunStarted) and resumed[0].already_done == 2
        assert sum(isinstance(e, ItemScored) for e in resumed) == 2
        assert resumed[-1] == RunFinished(run.id, "complete")
        results = {r.item_id: r for r in store.results(run.id)}
        assert set(results) == {"f1", "f2", "s1", "m1"}
        assert kept[0].reply == results["f1"].reply  # kept, not redone
        # items lacking what a metric needs are skipped and say so
        assert "exact_match" in results["s1"].detail["skipped"]
        assert "choice_acc" in results["m1"].scores and results["m1"].reply == ""
        assert results["s1"].detail["label"]["gold"] == "positive"


def test_exception_mid_run_then_resume_and_cancel(engine: EngineClient, model_path: Path,
                                                  tmp_path: Path) -> None:
    engine.load(model_path, n_ctx=1024)  # the test before killed it
    eval_set = load_set(_set(tmp_path, ITEMS[:3]))
    with EvalStore(tmp_path / "db.sqlite3") as store:
        run = start_run(store, eval_set, [_subject(model_path)], ["exact_match", "f1"])
        with pytest.raises(RuntimeError):
            for event in run_eval(engine, store, run.id):
                if isinstance(event, ItemScored):
                    raise RuntimeError("the app crashed")
        assert store.get(run.id).status == "incomplete"
        assert len(store.results(run.id)) == 1
        finished = list(run_eval(engine, store, run.id))
        assert finished[-1] == RunFinished(run.id, "complete")
        assert len(store.results(run.id)) == 3

        stopped = start_run(store, eval_set, [_subject(model_path)], ["exact_match"])
        seen: list[ItemScored] = []
        events: list[object] = []
        for event in run_eval(engine, store, stopped.id, should_stop=lambda: len(seen) >= 1):
            events.append(event)
            if isinstance(event, ItemScored):
                seen.append(event)
        assert len(seen) == 1 and events[-1] == RunFinished(stopped.id, "cancelled")
        assert store.get(stopped.id).status == "cancelled"


def test_judge_verdict_is_recorded(engine: EngineClient, model_path: Path,
                                   tmp_path: Path) -> None:
    eval_set = load_set(_set(tmp_path, ITEMS[:1]))
    with EvalStore(tmp_path / "db.sqlite3") as store:
        run = start_run(store, eval_set, [_subject(model_path)], ["judge"])
        list(run_eval(engine, store, run.id, judge_engine=engine))
        (result,) = store.results(run.id)
        verdict = result.detail["judge"]
        assert verdict["raw"]  # the judge's own words, parsed or not
        assert verdict["parsed"] == ("judge" in result.scores)


def test_cli_runs_a_set_against_the_model_and_a_quantized_copy(model_path: Path,
                                                                tmp_path: Path) -> None:
    from core.models.quantize import quantize_model

    copy = quantize_model(model_path, "Q8_0")
    path = _set(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    status = main(["eval", "run", str(path), "--model", str(model_path), "--model",
                   str(copy.path), "--max-tokens", "6", "--ctx", "512", "--json"], out, err)
    assert status == 0, err.getvalue()
    data = json.loads(out.getvalue())
    assert [s["model"] for s in data["subjects"]] == [str(model_path), str(copy.path)]
    assert len(data["items"]) == 2 * len(ITEMS)
    for row in data["items"]:
        assert row["status"] == "complete" and "reply" in row
    f1 = [r for r in data["items"] if r["item_id"] == "f1"]
    assert all(r["references"] == ["Paris"] and "exact_match" in r["scores"] for r in f1)
    for summary in data["summary"]:
        names = {x["metric"] for x in summary["metrics"]}
        assert {"exact_match", "bleu", "accuracy", "choice_acc"} <= names
        bleu = next(x for x in summary["metrics"] if x["metric"] == "bleu")
        assert bleu["tokenizer"] == "13a" and bleu["skipped"] == 2
    assert data["significance"] and all("note" in n for n in data["significance"])

    run_id = data["run"]["id"]
    out = io.StringIO()
    assert main(["eval", "export", str(run_id), "--format", "csv"], out, err) == 0
    assert out.getvalue().splitlines()[0].startswith("run,subject,item_id")
    assert len(out.getvalue().strip().splitlines()) == 1 + 2 * len(ITEMS)
    out = io.StringIO()
    assert main(["eval", "list", "--json"], out, err) == 0
    assert json.loads(out.getvalue())[0]["id"] == run_id
