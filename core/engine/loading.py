"""Loading a model as the user's load settings say: the one path the chat, Compare, the CLI and
the benchmarks take (see core/models/load_settings.py for the settings themselves)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.engine.client import EngineClient
from core.engine.types import ModelInfo
from core.models.load_settings import LoadSettings, load_options


def load_model(engine: EngineClient, path: str | Path, settings: LoadSettings,
               loras: Sequence[tuple[str | Path, float]] | None = None) -> ModelInfo:
    """Load `path` on `engine` as `settings` say, with the GGUF LoRA adapters `loras`
    ((path, scale) pairs) applied over it."""
    options = load_options(settings, path)
    if loras:  # only when asked, so engines without adapter support load as before
        options["loras"] = list(loras)
    return engine.load(path, **options)
