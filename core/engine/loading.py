"""Loading a model as the user's load settings say: the one path the chat, Compare, the CLI and
the benchmarks take (see core/models/load_settings.py for the settings themselves)."""

from __future__ import annotations

from pathlib import Path

from core.engine.client import EngineClient
from core.engine.types import ModelInfo
from core.models.load_settings import LoadSettings, load_options


def load_model(engine: EngineClient, path: str | Path, settings: LoadSettings) -> ModelInfo:
    """Load `path` on `engine` as `settings` say."""
    return engine.load(path, **load_options(settings, path))
