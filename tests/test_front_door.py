"""The window (desktop/ and ui/) takes every name the front door has from core.api, never from
the module behind it, so those modules can move without touching the window."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from core import api

REPO = Path(__file__).resolve().parents[1]


def _behind_the_door(module: str, name: str) -> bool:
    if name not in api._HOMES:
        return False
    try:
        return getattr(importlib.import_module(module), name) is getattr(api, name)
    except (ImportError, AttributeError):
        return False


def test_the_window_imports_front_door_names_from_core_api() -> None:
    offenders = []
    for package in ("desktop", "ui"):
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                        and node.module.startswith("core") and node.module != "core.api"):
                    continue
                offenders += [f"{path.relative_to(REPO)}:{node.lineno} {node.module}.{a.name}"
                              for a in node.names if _behind_the_door(node.module, a.name)]
    assert offenders == [], "import these from core.api:\n" + "\n".join(offenders)
