"""Where a tiny model's text comes from: a file, a shipped sample, a documents collection, or
a chat, named by one spec string the CLI and the window share.

    sample[:NAME]      a text shipped in resources/foundations (default: the first)
    collection:NAME    the indexed text of a documents collection, in document order
    chat:ID            the messages of a saved chat
    PATH               a text file
"""

from __future__ import annotations

from pathlib import Path

from core.errors import FoundationsError, GlassboxError
from core.foundations.tiny_data import read_text_file, sample_texts


def describe(spec: str) -> str:
    kind, _, rest = spec.partition(":")
    if kind == "sample":
        return f"the sample {rest or _sample(rest).stem}"
    if kind in ("collection", "chat") and rest:
        return f"{kind} {rest}"
    return Path(spec).name


def _sample(name: str) -> Path:
    samples = sample_texts()
    if not samples:
        raise FoundationsError("No sample texts are installed (resources/foundations).")
    if not name:
        return samples[0]
    for path in samples:
        if path.stem == name:
            return path
    raise FoundationsError(f"No sample text is named {name!r}; the samples are "
                           f"{', '.join(p.stem for p in samples)}.")


def load_text(spec: str) -> str:
    """The text `spec` names (see the module docstring); FoundationsError when it cannot."""
    kind, _, rest = spec.partition(":")
    if kind == "sample":
        return read_text_file(_sample(rest))
    if kind == "collection" and rest:
        from core.finetune.data import from_collection

        try:
            dataset = from_collection(rest)
        except GlassboxError as exc:
            raise FoundationsError(str(exc)) from exc
        return "\n\n".join(e.text for e in dataset.examples if e.text)
    if kind == "chat" and rest:
        return _chat_text(rest)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FoundationsError(f"{spec} is not a text file, nor sample[:NAME], "
                               "collection:NAME or chat:ID.")
    return read_text_file(path)


def _chat_text(rest: str) -> str:
    from core.config import database_path
    from core.store import ChatStore

    try:
        chat_id = int(rest)
    except ValueError:
        raise FoundationsError(f"chat:{rest}: give a chat id, e.g. chat:3 (`glassbox chat "
                               "list` shows them).") from None
    try:
        with ChatStore(database_path()) as store:
            return "\n\n".join(m.content for m in store.messages(chat_id) if m.content.strip())
    except GlassboxError as exc:
        raise FoundationsError(str(exc)) from exc
