"""Which model the app loads on its own at start-up, and when it must not.

A default the user chose in the library wins over the model used last, which wins over the
bundled one. Two guards keep a model that crashed from loading again unasked: it was loading
when the app died (the load guard), or its engine died while it ran (the `crashed_model`
setting). The desktop's model controller reads these facts and acts on the choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

NO_MODEL = "No model is installed. Choose “Open GGUF file…” to load one."


@dataclass(frozen=True)
class StartupChoice:
    action: Literal["load", "none", "offer"]  # offer: tell why not, with an action to load it
    path: str | None = None
    message: str = ""  # why nothing was loaded


def startup_model(default: str | None, last: Any, bundled: Sequence[str],
                  crashed_loading: str | None, engine_crash: Any) -> StartupChoice:
    """What to do at start-up. `default`: the library's chosen default (None: none chosen);
    `last`: the model used last (any stored value); `crashed_loading`: the model the app was
    loading when it died; `engine_crash`: the model whose engine died while it ran."""
    if default is not None:
        auto: str | None = default
    elif isinstance(last, str) and Path(last).is_file():
        auto = last
    else:
        auto = bundled[0] if bundled else None
    if auto is None:
        return StartupChoice("none", None, NO_MODEL)
    if crashed_loading is not None and same_file(crashed_loading, auto):
        return StartupChoice("none", auto, (
            f"Glassbox closed while loading {Path(auto).name} last time, so it was not "
            "loaded again. Pick it in the model list to try again."))
    if isinstance(engine_crash, str) and same_file(engine_crash, auto):
        return StartupChoice("offer", auto, (
            f"The model engine stopped while running {Path(auto).name} last time, so it was "
            "not loaded again."))
    return StartupChoice("load", auto)


def same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return a == b
