"""Which engine the model thread talks to: the local llama.cpp child, or a saved remote engine.

A model path "remote:NAME/MODEL" names model MODEL of the saved engine NAME (the path a
RemoteEngine gives its model). Runs on the engine worker's thread, which owns both engines;
the local child stays alive (with its model) while a remote engine answers, so going back
only loads the file again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.engine.remote_paths import PREFIX, is_remote, parse_remote, remote_path

__all__ = ["PREFIX", "is_remote", "parse_remote", "remote_path", "switch_engine"]

if TYPE_CHECKING:
    from core.api import EngineClient, ModelInfo, RemoteEngine


def switch_engine(current: EngineClient | RemoteEngine, local: EngineClient, path: str,
                  db_path: Path) -> tuple[EngineClient | RemoteEngine, ModelInfo | None]:
    """The engine for `path` and, for a remote one, its model (already chosen). A local path
    gives the local engine and None: the caller loads the file on it. On an error the current
    engine stays in use."""
    # Imported here, on the engine thread: the window shows before the HTTP clients load.
    from core.api import EngineRegistry, RemoteEngine

    if not is_remote(path):
        if current is not local:
            current.close()
        return local, None
    name, model = parse_remote(path)
    if isinstance(current, RemoteEngine) and current.name == name and current.alive:
        return current, current.select_model(model)  # another model of the same server
    engine = EngineRegistry(db_path).open(path)  # a clear error if it is not there
    if current is not local:
        current.close()
    assert engine.model is not None
    return engine, engine.model
