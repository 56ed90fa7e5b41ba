"""Names a module offers without importing their homes until first use (PEP 562), so a light
module (the front door, `core.rag`) can name heavy things and still import in no time."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(namespace: dict[str, Any], homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for the module whose `globals()` is `namespace`: each name
    of `homes` (name -> the module that holds it) is imported on first use and kept there, so
    the next lookup is an ordinary one."""
    module = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        try:
            home = homes[name]
        except KeyError:
            raise AttributeError(f"module {module!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    return __getattr__
