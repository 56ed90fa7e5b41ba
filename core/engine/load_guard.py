"""Remember which model was loading, so a crash during a load is not repeated at next start."""

from __future__ import annotations

import json
import os
from pathlib import Path


class LoadGuard:
    """A marker file written before a load and removed after it, whatever the outcome.

    If the process dies mid-load (llama.cpp may abort on a malformed file), the marker
    survives and the next start can refuse to auto-load that model.
    """

    def __init__(self, folder: Path) -> None:
        self._marker = folder / "loading-model.json"

    def begin(self, model_path: str | Path) -> None:
        tmp = self._marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"path": str(model_path)}), encoding="utf-8")
        os.replace(tmp, self._marker)

    def end(self) -> None:
        self._marker.unlink(missing_ok=True)

    def crashed_while_loading(self) -> str | None:
        """The path that was loading when the app last died, or None."""
        try:
            return str(json.loads(self._marker.read_text(encoding="utf-8"))["path"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
