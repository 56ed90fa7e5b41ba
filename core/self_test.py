"""`Glassbox --self-test`: prove an installation works end to end, without a display.

It runs what a new user does first, through the same core API as the app: load the bundled chat
model, generate a reply, index the sample collection, answer a question from it with a
citation, and capture the model's attention. Everything it writes goes to a throw-away folder,
so a self-test never touches the user's chats or collections.

In a packaged (frozen) app it also checks that nothing was imported from outside the bundle:
a build that only works because a Python installation happens to be on the machine is broken.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.errors import GlassboxError

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.rag.library import DocumentLibrary

Progress = Callable[[str], None]

# Greedy and seeded, so a passing build passes again on the same machine.
_SAMPLING = SamplingSettings(temperature=0.0, seed=7, max_tokens=24)
_GROUNDED_SAMPLING = SamplingSettings(temperature=0.0, seed=7, max_tokens=96)
_N_CTX = 2048
GREETING = "Say hello in one short sentence."
QUESTION = "What does attention let each position in a text do?"
ATTENTION_TEXT = "The cat sat on the mat because it was tired."
_ROW_SUM_TOLERANCE = 0.02  # attention crosses the pipe as float16


class SelfTestFailure(GlassboxError):
    """A self-test check ran but its result was wrong (not just an error on the way)."""


@dataclass
class CheckResult:
    name: str
    ok: bool = False
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: bool = False


@dataclass
class _Run:
    """What the checks share: the engine and the library, opened by earlier checks."""

    work: Path
    chat_model: Path | None = None  # None: the bundled one
    engine: EngineClient | None = None
    library: DocumentLibrary | None = None


def bundle_root() -> Path | None:
    """The folder a frozen (PyInstaller) app unpacks to; None when running from source."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)).resolve()


def modules_outside(root: Path) -> list[str]:
    """Loaded modules whose file is not under `root`: imports that escaped the bundle.

    Relative file names are not files: shiboken names the modules it embeds in its own
    library that way (PySide6.support -> "shibokensupport/feature.py")."""
    outside = []
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if not origin or not Path(origin).is_absolute():
            continue
        if not Path(origin).resolve().is_relative_to(root):
            outside.append(f"{name} ({origin})")
    return sorted(outside)


def _check_environment(run: _Run) -> dict[str, Any]:
    root = bundle_root()
    details: dict[str, Any] = {"frozen": root is not None, "executable": sys.executable,
                               "python": sys.version.split()[0], "sys_path": list(sys.path)}
    if root is None:
        return details
    details["bundle"] = str(root)
    stray_paths = [p for p in sys.path if not Path(p).resolve().is_relative_to(root)]
    if stray_paths:
        raise SelfTestFailure(f"sys.path reaches outside the bundle {root}: {stray_paths}")
    stray_modules = modules_outside(root)
    if stray_modules:
        raise SelfTestFailure(f"modules were imported from outside the bundle {root}: "
                              f"{', '.join(stray_modules[:10])}")
    return details


def _check_chat_model(run: _Run) -> dict[str, Any]:
    from core.engine.client import EngineClient
    from core.models.bundled import default_chat_model

    path = run.chat_model or default_chat_model()
    run.engine = EngineClient()
    info = run.engine.load(path, n_ctx=_N_CTX)
    return {"path": str(path), "name": info.name, "architecture": info.architecture,
            "n_params": info.n_params, "size_mb": round(info.size_bytes / 2**20, 1),
            "load_s": round(info.load_s, 3)}


def _reply(engine: EngineClient, messages: list[ChatMessage],
           sampling: SamplingSettings) -> DoneEvent:
    done = None
    for event in engine.generate(messages, sampling):
        if isinstance(event, DoneEvent):
            done = event
    if done is None:
        raise SelfTestFailure("the engine ended the reply without a final event")
    return done


def _check_generate(run: _Run) -> dict[str, Any]:
    assert run.engine is not None
    done = _reply(run.engine, [ChatMessage("user", GREETING)], _SAMPLING)
    if done.stats.completion_tokens < 1 or not done.text.strip():
        raise SelfTestFailure(f"the model produced no text (finish: {done.finish_reason})")
    return {"text": done.text, "completion_tokens": done.stats.completion_tokens,
            "tokens_per_s": round(done.stats.tokens_per_s, 1)}


def _check_index_sample(run: _Run) -> dict[str, Any]:
    from core.rag.library import DocumentLibrary
    from core.rag.sample import SAMPLE_COLLECTION, add_sample_collection, guide_files

    files = guide_files()
    run.library = DocumentLibrary(db_path=run.work / "glassbox.sqlite3")
    summary = add_sample_collection(run.library)
    if summary.failed or not summary.indexed:
        reasons = "; ".join(f"{Path(p).name}: {why}" for p, why in summary.failures)
        raise SelfTestFailure(f"indexing the sample collection failed for {summary.failed} "
                              f"of {len(files)} files: {reasons or 'nothing was indexed'}")
    return {"collection": SAMPLE_COLLECTION, "files": [f.name for f in files],
            "indexed": summary.indexed, "chunks": summary.chunks,
            "seconds": round(summary.elapsed_s, 2)}


def _check_grounded_answer(run: _Run) -> dict[str, Any]:
    from core.rag.grounding import ground, searcher
    from core.rag.sample import SAMPLE_COLLECTION

    assert run.engine is not None and run.library is not None
    grounding = ground([ChatMessage("user", QUESTION)], [SAMPLE_COLLECTION],
                       searcher(run.library), run.engine, _N_CTX,
                       _GROUNDED_SAMPLING.max_tokens)
    if not grounding.sources:
        raise SelfTestFailure("no passage of the sample collection matched the question")
    done = _reply(run.engine, list(grounding.messages), _GROUNDED_SAMPLING)
    if not done.text.strip():
        raise SelfTestFailure(f"the grounded answer is empty ({len(grounding.sources)} "
                              "passages were given)")
    # Whether the tiny bundled model cites or copies a passage depends on the passages and the
    # prompt wording, not on the bundle: the check is that citations are read, and their
    # count is reported (the citation rules have tests of their own).
    citations = grounding.with_answer(done.text).citations(done.text)
    cited = [c for c in citations if c["cited"]]
    return {"question": QUESTION, "answer": done.text, "sources": len(citations),
            "cited": [{"number": c["number"], "file": Path(c["path"]).name,
                       "heading": c["heading"], "page": c["page"]} for c in cited]}


def _check_attention(run: _Run) -> dict[str, Any]:
    import numpy as np

    assert run.engine is not None
    view = run.engine.attention(ATTENTION_TEXT)
    layers, heads, queries, keys = view.attention.shape
    if not (layers and heads and queries == keys == len(view.tokens)):
        raise SelfTestFailure(f"attention has an unexpected shape {view.attention.shape} "
                              f"for {len(view.tokens)} tokens")
    worst = float(np.abs(view.attention.sum(axis=-1) - 1.0).max())
    if worst > _ROW_SUM_TOLERANCE:
        raise SelfTestFailure(f"attention rows do not sum to 1 (off by up to {worst:.3f})")
    return {"layers": layers, "heads": heads, "tokens": queries,
            "max_row_sum_error": round(worst, 5)}


# (name, function, the checks it needs to have passed)
_CHECKS: list[tuple[str, Callable[[_Run], dict[str, Any]], tuple[str, ...]]] = [
    ("environment", _check_environment, ()),
    ("chat_model", _check_chat_model, ()),
    ("generate", _check_generate, ("chat_model",)),
    ("index_sample", _check_index_sample, ()),
    ("grounded_answer", _check_grounded_answer, ("chat_model", "index_sample")),
    ("attention", _check_attention, ("chat_model",)),
]
CHECK_NAMES = tuple(name for name, _, _ in _CHECKS)


def _run_check(name: str, check: Callable[[_Run], dict[str, Any]], run: _Run) -> CheckResult:
    result = CheckResult(name)
    started = time.perf_counter()
    try:
        result.details = check(run)
        result.ok = True
    except GlassboxError as exc:
        result.error = str(exc)
    except Exception as exc:  # a bug or a missing piece of the bundle: report it, go on
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = round(time.perf_counter() - started, 3)
    return result


@contextmanager
def _home_in(folder: Path) -> Iterator[Path]:
    """GLASSBOX_HOME is `folder` while the checks run: what the engine child and the indexer
    write beside the database (the generating lock, crash markers) stays out of the user's
    data folder too."""
    saved = os.environ.get("GLASSBOX_HOME")
    os.environ["GLASSBOX_HOME"] = str(folder)
    try:
        yield folder
    finally:
        if saved is None:
            os.environ.pop("GLASSBOX_HOME", None)
        else:
            os.environ["GLASSBOX_HOME"] = saved


def run_self_test(progress: Progress | None = None, work_dir: Path | None = None,
                  chat_model: Path | None = None) -> dict[str, Any]:
    """Run every check and return the report: {"ok", "failed", "checks", "total_s", ...}.

    Never raises for a failed check: the report names it and its reason (`failed` holds the
    first one as "check: reason"), and checks that needed it are skipped. `work_dir` receives
    the database and the guide's copies (default: a temporary folder, removed afterwards);
    `chat_model` replaces the bundled chat model.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="glassbox-self-test-") as scratch, \
            _home_in(work_dir or Path(scratch)) as home:
        run = _Run(home, chat_model)
        try:
            results = _run_all(run, progress)
        finally:
            if run.library is not None:
                run.library.close()
            if run.engine is not None:
                run.engine.close()
    failures = [r for r in results if not r.ok]
    first = failures[0] if failures else None
    return {
        "ok": not failures,
        "failed": f"{first.name}: {first.error}" if first else None,
        "frozen": bundle_root() is not None,
        "checks": [asdict(r) for r in results],
        "total_s": round(time.perf_counter() - started, 2),
    }


def _run_all(run: _Run, progress: Progress | None) -> list[CheckResult]:
    passed: set[str] = set()
    results = []
    for name, check, needs in _CHECKS:
        missing = [n for n in needs if n not in passed]
        if missing:
            results.append(CheckResult(name, error=f"skipped: {', '.join(missing)} failed",
                                       skipped=True))
            continue
        if progress:
            progress(name)
        result = _run_check(name, check, run)
        if result.ok:
            passed.add(name)
        results.append(result)
    return results
