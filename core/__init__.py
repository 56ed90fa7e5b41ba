"""Glassbox's core: no Qt, used alike by the desktop, the CLI, the tests and the benchmarks.

Its front door is `core.api`; its names are also reachable here (`core.ChatSession`), loaded
on first use, so importing any core module stays as cheap as before.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    # Submodule names (and "api" itself) fall through to the import system: asking for them
    # here would recurse through `from core import api`.
    if not name.startswith("_") and name != "api":
        api = importlib.import_module("core.api")
        if name in api.__all__:
            return getattr(api, name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
