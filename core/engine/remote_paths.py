"""Model paths that name a saved remote engine's model: "remote:NAME/MODEL".

A chat, a comparison variant or a recent-models list stores a model as a path; a remote model
gets one too, so everything that keeps paths keeps remote choices without a second field.
Plain strings only: nothing here opens a connection.
"""

from __future__ import annotations

from core.errors import RemoteEngineError

PREFIX = "remote:"


def is_remote(path: str | None) -> bool:
    return bool(path) and str(path).startswith(PREFIX)


def remote_path(engine: str, model: str) -> str:
    return f"{PREFIX}{engine}/{model}"


def parse_remote(path: str) -> tuple[str, str | None]:
    """(engine name, model or None) of a "remote:NAME/MODEL" path; the model may hold "/"
    (Hugging Face ids), the engine name may not."""
    name, _slash, model = path[len(PREFIX):].partition("/")
    if not is_remote(path) or not name:
        raise RemoteEngineError(f"{path!r} names no engine: expected remote:NAME/MODEL.")
    return name, model or None
