"""Running an eval set against several subjects, as a stream of plain events.

A subject is what answers: a model file (with LoRA adapters), a preset's system prompt and
examples, sampling settings, or a saved remote engine's model ("remote:NAME/MODEL"). Subjects
run one after another on one engine, like Compare's variants. Each item's result is committed
as it completes, so a crash (of the engine, or of this process) keeps what was done, and
`run_eval` on the same run id later goes on from there. Cancel with `should_stop`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.defaults import DEFAULT_N_CTX
from core.engine.remote_paths import is_remote
from core.engine.types import ChatMessage, ModelInfo, SamplingSettings, sampling_from
from core.errors import Cancelled, EngineCrashed, GlassboxError, NoModelLoaded
from core.evals import metrics as m
from core.evals.judge import DEFAULT_RUBRIC
from core.evals.scoring import Context, score_item
from core.evals.sets import EvalItem, EvalSet, EvalSetError, file_digest, load_set, needs

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.rag.library import DocumentLibrary
    from core.store.evals import EvalStore, StoredRun

Loader = Callable[[str, Sequence[tuple[str, float]]], ModelInfo]

# Greedy and short by default: an eval compares models, not samples of one model.
EVAL_SAMPLING = SamplingSettings(temperature=0.0, seed=0, max_tokens=64)
DEFAULT_K = 5
METRICS = tuple(m.EXPLANATIONS)


@dataclass(frozen=True)
class Subject:
    """One column of the matrix: who answers, and how."""

    label: str
    model: str | None = None  # a GGUF path, "remote:NAME/MODEL", or None: the loaded model
    loras: tuple[tuple[str, float], ...] = ()
    preset: str | None = None
    preamble: tuple[ChatMessage, ...] = ()  # the preset's system prompt and examples
    sampling: SamplingSettings = field(default_factory=lambda: EVAL_SAMPLING)

    def messages(self, item: EvalItem, passages: Sequence[str] = ()) -> list[ChatMessage]:
        context = "\n\n".join([item.context, *passages] if item.context else passages)
        prompt = f"Context:\n{context}\n\n{item.prompt}" if context else item.prompt
        return [*self.preamble, ChatMessage("user", prompt)]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "model": self.model,
                "loras": [list(pair) for pair in self.loras], "preset": self.preset,
                "preamble": [{"role": x.role, "content": x.content} for x in self.preamble],
                "sampling": asdict(self.sampling)}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Subject:
        return cls(value["label"], value.get("model"),
                   tuple((str(p), float(s)) for p, s in value.get("loras", [])),
                   value.get("preset"),
                   tuple(ChatMessage(x["role"], x["content"]) for x in value.get("preamble", [])),
                   sampling_from(value.get("sampling")))


# -- events ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunStarted:
    run_id: int
    total: int  # subject x item pairs in the whole run
    already_done: int  # kept from before (a resumed run)


@dataclass(frozen=True)
class SubjectStarted:
    subject: int
    label: str
    model_name: str


@dataclass(frozen=True)
class ItemScored:
    subject: int
    item_id: str
    done: int
    total: int
    reply: str
    scores: dict[str, float]
    seconds: float


@dataclass(frozen=True)
class ItemFailed:
    subject: int
    item_id: str
    message: str


@dataclass(frozen=True)
class SubjectFailed:
    subject: int
    message: str


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    status: str  # complete, incomplete, cancelled


EvalEvent = RunStarted | SubjectStarted | ItemScored | ItemFailed | SubjectFailed | RunFinished


def default_metrics(eval_set: EvalSet) -> list[str]:
    """The metrics the set's items carry gold answers for."""
    have = needs(eval_set.items)
    chosen: list[str] = []
    if have["references"]:
        chosen += list(m.REFERENCE_METRICS)
    if have["label"]:
        chosen += ["accuracy", "macro_f1"]
    if have["schema"]:
        chosen += ["json_valid", "schema"]
    if have["choices"]:
        chosen += ["choice_acc", "choice_acc_norm"]
    if have["retrieval"]:
        chosen += ["hit_at_k", "mrr"]
    return chosen


def check_metrics(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise EvalSetError(f"Unknown metric(s) {', '.join(unknown)}; choose from "
                           f"{', '.join(METRICS)}.")
    return list(dict.fromkeys(names))


def start_run(store: EvalStore, eval_set: EvalSet, subjects: Sequence[Subject],
              metrics: Sequence[str] | None = None, options: dict[str, Any] | None = None,
              title: str = "") -> StoredRun:
    """Save a new run (nothing evaluated yet); `run_eval(…, run.id)` evaluates it."""
    if not subjects:
        raise EvalSetError("An eval run needs at least one subject.")
    chosen = check_metrics(metrics) if metrics else default_metrics(eval_set)
    if not chosen:
        raise EvalSetError(f"{eval_set.name}: no item has a reference, label, schema, choices "
                           "or gold passages, so no metric applies; name one with --metric.")
    labels = " vs ".join(s.label for s in subjects)
    return store.create_run(title or f"{eval_set.name} · {labels}", eval_set.name,
                            eval_set.path, eval_set.digest, [s.to_json() for s in subjects],
                            chosen, {"k": DEFAULT_K, **(options or {})})


def load_run_set(run: StoredRun) -> EvalSet:
    """The run's set, refusing one that changed since the run began (results would not match)."""
    if not Path(run.set_path).is_file():
        raise EvalSetError(f"The eval set {run.set_path} of run {run.id} is gone: put it back "
                           "to resume the run.")
    if file_digest(run.set_path) != run.set_digest:
        raise EvalSetError(f"The eval set {run.set_path} changed since run {run.id} started; "
                           "start a new run instead of resuming this one.")
    return load_set(run.set_path)


def run_eval(engine: EngineClient, store: EvalStore, run_id: int, *,
             should_stop: Callable[[], bool] = lambda: False, load: Loader | None = None,
             open_remote: Callable[[str], Any] | None = None, judge_engine: Any = None,
             library: DocumentLibrary | None = None) -> Iterator[EvalEvent]:
    """Evaluate run `run_id`'s subjects on its set, skipping (subject, item) pairs already
    saved: the same call starts a new run and resumes an interrupted one. A subject that
    fails (its model does not load, its engine crashes) is reported and the next one runs;
    the run then ends `incomplete`. The model loaded before is put back at the end."""
    run = store.get(run_id)
    eval_set = load_run_set(run)
    subjects = [Subject.from_json(s) for s in run.subjects]
    ctx = Context(tuple(run.metrics), eval_set.labels, int(run.options.get("k", DEFAULT_K)),
                  judge_engine, str(run.options.get("rubric") or DEFAULT_RUBRIC), library)
    done = store.done(run_id)
    total = len(subjects) * len(eval_set)
    original = engine.model
    if original is None and any(s.model is None for s in subjects):
        raise NoModelLoaded("No model is loaded: choose one before evaluating.")
    fallback = original.n_ctx if original else DEFAULT_N_CTX
    loader = load or _default_loader(engine, fallback)
    status = "incomplete"
    store.set_status(run_id, "running")
    try:
        yield RunStarted(run_id, total, len(done))
        count = len(done)
        failed = False
        for index, subject in enumerate(subjects):
            todo = [(pos, item) for pos, item in enumerate(eval_set.items)
                    if (index, item.id) not in done]
            if not todo:
                continue
            for event in _run_subject(engine, store, run_id, index, subject, todo, ctx,
                                      original, loader, open_remote, should_stop):
                if isinstance(event, ItemScored):
                    count += 1
                    event = ItemScored(event.subject, event.item_id, count, total, event.reply,
                                       event.scores, event.seconds)
                failed = failed or isinstance(event, SubjectFailed)
                yield event
            if should_stop():
                break
        if should_stop():
            status = "cancelled"
        else:
            status = "incomplete" if failed else "complete"
    finally:
        store.set_status(run_id, status)
        _restore(engine, original, loader)
    yield RunFinished(run_id, status)


def _default_loader(engine: EngineClient, n_ctx: int) -> Loader:
    from core.engine.loading import load_model
    from core.models.load_settings import LoadSettings

    settings = LoadSettings(gpu_layers=0, n_ctx=n_ctx)
    return lambda path, loras: load_model(engine, path, settings, loras=list(loras))


def _restore(engine: EngineClient, original: ModelInfo | None, loader: Loader) -> None:
    current = engine.model
    if original is None or not engine.alive:
        return
    if current is None or current.path != original.path or current.loras != original.loras:
        try:
            loader(original.path, [(x.path, x.scale) for x in original.loras])
        except GlassboxError:
            pass  # the run's results are saved; the caller sees the engine's state as is


def _loaded_as(engine: EngineClient, path: str, loras: Sequence[tuple[str, float]]) -> bool:
    model = engine.model
    if model is None or Path(model.path).resolve() != Path(path).resolve():
        return False
    have = [(Path(x.path).resolve(), x.scale) for x in model.loras]
    return have == [(Path(p).resolve(), float(s)) for p, s in loras]


def _run_subject(engine: EngineClient, store: EvalStore, run_id: int, index: int,
                 subject: Subject, todo: list[tuple[int, EvalItem]], ctx: Context,
                 original: ModelInfo | None, loader: Loader,
                 open_remote: Callable[[str], Any] | None,
                 should_stop: Callable[[], bool]) -> Iterator[EvalEvent]:
    remote = None
    try:
        if is_remote(subject.model):
            if open_remote is None:
                raise NoModelLoaded(f"{subject.model} is a remote engine's model, and this run "
                                    "was started without access to the saved engines.")
            remote = open_remote(str(subject.model))
            answerer: Any = remote
        else:
            wanted = subject.model or (original.path if original else None)
            if wanted and not _loaded_as(engine, wanted, subject.loras):
                loader(wanted, subject.loras)
            answerer = engine
        model = answerer.model
        yield SubjectStarted(index, subject.label, model.name if model else subject.label)
        for position, item in todo:
            if should_stop():
                return
            started = time.perf_counter()
            try:
                result = score_item(answerer, item, lambda passages, it=item:
                                    subject.messages(it, passages), subject.sampling, ctx)
            except Cancelled:
                return
            except (EngineCrashed, NoModelLoaded):
                raise
            except GlassboxError as exc:  # this item only (a prompt too long, say)
                seconds = time.perf_counter() - started
                store.add_result(run_id, index, item.id, position, "", {},
                                 {"error": str(exc)}, "failed", seconds)
                yield ItemFailed(index, item.id, str(exc))
                continue
            seconds = time.perf_counter() - started
            store.add_result(run_id, index, item.id, position, result.reply, result.scores,
                             result.detail, "complete", seconds)
            yield ItemScored(index, item.id, 0, 0, result.reply, result.scores, seconds)
    except GlassboxError as exc:
        yield SubjectFailed(index, str(exc))
    finally:
        if remote is not None:
            remote.close()
