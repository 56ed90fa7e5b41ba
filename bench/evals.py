"""Evaluation runs (issue 23) against the bare engine work they are made of, on the bundled
SmolLM2-135M loaded in one engine process:

- a 50-item generation set (the starter `facts` questions with their references, repeated
  with distinct ids) through `run_eval` (scoring with the reference metrics, each result
  committed to a throw-away `EvalStore`), against the same 50 prompts through the engine's
  `generate` with the same greedy sampling and max tokens and nothing else: no scoring, no
  store. The ratio is the eval's overhead over generating its replies (target <= 1.10);
- multiple-choice scoring of the `multiple_choice` starter set with the KV cache of each
  item's shared prompt reused across its choices (`reuse_prefix=True`, what evals use)
  against decoding prompt + choice from scratch for every choice (`reuse_prefix=False`):
  time per item both ways. No fixed target.

Sides alternate round by round so load from other processes drifts over both alike.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._stats import figure
from core.defaults import DEFAULT_N_CTX
from core.engine.client import EngineClient
from core.engine.loading import load_model
from core.engine.types import DoneEvent
from core.evals.choices import score_choices
from core.evals.runs import EVAL_SAMPLING, ItemFailed, RunFinished, Subject, run_eval, start_run
from core.evals.sets import load_set
from core.models.bundled import default_chat_model
from core.models.load_settings import LoadSettings
from core.store.evals import EvalStore

ITEMS = 50
GEN_ROUNDS = 3
MC_ROUNDS = 5
TARGET_RATIO = 1.10


def _fifty_items(folder: Path) -> Path:
    """The starter facts questions, repeated up to ITEMS with distinct ids, as a JSONL set."""
    facts = load_set("facts").items
    lines = []
    for n in range(ITEMS):
        item = facts[n % len(facts)].to_json()
        item["id"] = f"{item['id']}-r{n // len(facts)}"
        lines.append(json.dumps(item))
    path = folder / "facts50.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _generation_row(engine: EngineClient, folder: Path) -> dict[str, Any]:
    eval_set = load_set(_fifty_items(folder))
    subject = Subject("bundled")
    store = EvalStore(folder / "evals.sqlite3")
    replies: dict[str, list[str]] = {"ours": [], "bare": []}

    def ours() -> None:
        run = start_run(store, eval_set, [subject])
        for event in run_eval(engine, store, run.id):
            assert not isinstance(event, ItemFailed), event
            if isinstance(event, RunFinished):
                assert event.status == "complete", event
        replies["ours"] = [r.reply for r in store.results(run.id)]

    def bare() -> None:
        out = []
        for item in eval_set.items:
            for event in engine.generate(subject.messages(item), EVAL_SAMPLING):
                if isinstance(event, DoneEvent):
                    out.append(event.text)
        replies["bare"] = out

    try:
        mine, theirs = _alternate(ours, bare, GEN_ROUNDS)
    finally:
        store.close()
    per_item_ours = [ms / ITEMS for ms in mine]
    per_item_bare = [ms / ITEMS for ms in theirs]
    row = figure("", per_item_ours, per_item_bare,
                 f"the same {ITEMS} prompts through the engine's generate, same greedy sampling "
                 "and max tokens, no scoring, no store", unit="ms/item",
                 target_ratio=TARGET_RATIO, higher_is_better=False)
    rate_ours = 1000.0 / row["glassbox"]
    rate_bare = 1000.0 / row["baseline"]
    row["name"] = (f"eval run of a {ITEMS}-item generation set (facts x {ITEMS}, 7 reference "
                   f"metrics, results stored): {rate_ours:.2f} vs {rate_bare:.2f} items/s")
    row["glassbox_items_per_s"] = round(rate_ours, 3)
    row["baseline_items_per_s"] = round(rate_bare, 3)
    row["max_tokens"] = EVAL_SAMPLING.max_tokens
    row["same_replies"] = sorted(replies["ours"]) == sorted(replies["bare"])
    return row


def _choices_row(engine: EngineClient) -> dict[str, Any]:
    eval_set = load_set("multiple_choice")
    subject = Subject("bundled")
    items = [(subject.messages(item), item.choices) for item in eval_set.items]
    totals: dict[bool, list[tuple[float, ...]]] = {}

    def side(reuse: bool) -> None:
        totals[reuse] = [score_choices(engine, messages, choices, reuse_prefix=reuse).logprobs
                         for messages, choices in items]

    mine, theirs = _alternate(lambda: side(True), lambda: side(False), MC_ROUNDS)
    n = len(items)
    gap = max(abs(a - b) for x, y in zip(totals[True], totals[False], strict=True)
              for a, b in zip(x, y, strict=True))
    choices = sum(len(c) for _, c in items)
    return figure(f"multiple-choice scoring, {n}-item starter set ({choices} choices), time "
                  "per item with the shared prompt's KV cache reused (no fixed target)",
                  [ms / n for ms in mine], [ms / n for ms in theirs],
                  "score_continuations(reuse_prefix=False): prompt + choice decoded from "
                  "scratch for every choice", unit="ms/item", higher_is_better=False,
                  max_logprob_gap=round(gap, 4) if math.isfinite(gap) else None)


def _alternate(ours: Any, bare: Any, rounds: int) -> tuple[list[float], list[float]]:
    ours()
    bare()  # one untimed warm-up each
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        for fn, samples in ((ours, mine), (bare, theirs)):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1000.0)
    return mine, theirs


def _load_average() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def run() -> dict[str, Any]:
    load_before = _load_average()
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-evals-") as folder, \
            EngineClient() as engine:
        load_model(engine, default_chat_model(), LoadSettings(gpu_layers=0, n_ctx=DEFAULT_N_CTX))
        rows = [_generation_row(engine, Path(folder)), _choices_row(engine)]
    return {"name": "evals", "load_average_before": load_before,
            "load_average_after": _load_average(), "figures": rows}
