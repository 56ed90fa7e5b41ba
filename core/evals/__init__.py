"""Evaluation: eval sets, metrics computed by their fields' libraries, resumable runs of a set
against several subjects, and what the results say (intervals, significance, exports).

No Qt, no torch. The CLI (core/cli_eval.py) and a future Evaluate view use the same calls.
"""

from core.evals.choices import ChoiceResult, score_choices
from core.evals.judge import DEFAULT_RUBRIC, Verdict, judge, parse_verdict
from core.evals.metrics import EXPLANATIONS
from core.evals.report import compare_runs, run_csv, run_json, significance, summarise
from core.evals.runs import (
    EVAL_SAMPLING,
    EvalEvent,
    ItemFailed,
    ItemScored,
    RunFinished,
    RunStarted,
    Subject,
    SubjectFailed,
    SubjectStarted,
    default_metrics,
    run_eval,
    start_run,
)
from core.evals.sets import EvalItem, EvalSet, EvalSetError, iter_items, load_set, starter_sets

__all__ = [
    "DEFAULT_RUBRIC", "EVAL_SAMPLING", "EXPLANATIONS", "ChoiceResult", "EvalEvent", "EvalItem",
    "EvalSet", "EvalSetError", "ItemFailed", "ItemScored", "RunFinished", "RunStarted",
    "Subject", "SubjectFailed", "SubjectStarted", "Verdict", "compare_runs", "default_metrics",
    "iter_items", "judge", "load_set", "parse_verdict", "run_csv", "run_eval", "run_json",
    "score_choices", "significance", "starter_sets", "start_run", "summarise",
]
