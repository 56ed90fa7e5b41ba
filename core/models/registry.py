"""The library of installed models: bundled, imported and downloaded GGUF files.

The list lives in one JSON file, `data_home()/models/registry.json`, rewritten whole through a
temporary file and `os.replace`, so a crash leaves either the old list or the new one. A model
is registered only after its file is complete and checked, and unregistered before its file is
deleted: a crash in between leaves at worst a stray file, never an entry without its file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from core.atomic import write_json_atomic
from core.config import data_home
from core.errors import Cancelled, ModelImportError, ModelLibraryError, ModelLoadError, UnknownModel
from core.models import bundled
from core.models.metadata import ModelFacts, read_facts

log = logging.getLogger(__name__)

SOURCES = ("bundled", "imported", "downloaded")
_VERSION = 1
_COPY_CHUNK = 8 << 20
BUNDLED_CHAT_ID = bundled.CHAT_MODEL_ID
# One lock per process: the GUI may import on a worker while the window lists models.
_LOCK = threading.RLock()


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class ModelEntry:
    """One model in the library, as plain data for the CLI and the window."""

    name: str  # what the user types: `glassbox ask --model NAME`
    path: str
    source: str  # one of SOURCES
    facts: ModelFacts
    managed: bool = False  # the file is Glassbox's copy (in the data folder): it may delete it
    origin: str | None = None  # the imported file's original path, or "hub:REPO/FILE"
    repo_id: str | None = None
    filename: str | None = None
    sha256: str | None = None
    added_at: float = 0.0
    is_default: bool = False
    missing: bool = False  # the file is gone from disk (moved or deleted outside Glassbox)
    note: str | None = None  # what a bundled model is for: "tiny demo model"

    @property
    def label(self) -> str:
        """The name with its note, for lists: "bundled:smollm2-135m-instruct (tiny demo
        model)". The name stays the one name of the model everywhere."""
        return f"{self.name} ({self.note})" if self.note else self.name

    def to_dict(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "facts"}
        data["facts"] = self.facts.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelEntry:
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "facts"}
        return cls(facts=ModelFacts.from_dict(data["facts"]), **fields)


@dataclass
class _State:
    default: str | None = None
    models: list[ModelEntry] = field(default_factory=list)


def models_dir() -> Path:
    """Where imported copies and downloads live (created on first use)."""
    folder = data_home() / "models"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def partial_dir() -> Path:
    """Unfinished copies and downloads; nothing here is ever registered."""
    folder = models_dir() / ".partial"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _registry_path() -> Path:
    return models_dir() / "registry.json"


@contextlib.contextmanager
def _file_lock() -> Iterator[None]:
    """Serialise read-modify-write of the list across processes (the app and the CLI)."""
    with _LOCK, (models_dir() / ".registry.lock").open("a+b") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: the in-process lock is what we have
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _load() -> _State:
    path = _registry_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return _State(raw.get("default"), [ModelEntry.from_dict(m) for m in raw["models"]])
    except FileNotFoundError:
        return _State()
    except (ValueError, KeyError, TypeError) as exc:
        # Only a hand edit can get here (writes are atomic). Keep the damaged file for the
        # user and carry on with an empty list: the model files themselves are untouched.
        backup = path.with_name(f"registry.damaged-{int(time.time())}.json")
        path.replace(backup)
        log.warning("model list %s was unreadable (%s); moved to %s", path, exc, backup)
        return _State()


def _save(state: _State) -> None:
    path = _registry_path()
    data = {"version": _VERSION, "default": state.default,
            "models": [replace(m, is_default=False, missing=False).to_dict()
                       for m in state.models]}
    write_json_atomic(path, data, indent=1)


_facts_cache: dict[tuple[str, int, float], ModelFacts] = {}


def _cached_facts(path: Path) -> ModelFacts:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    if key not in _facts_cache:
        _facts_cache[key] = read_facts(path)
    return _facts_cache[key]


def _bundled_entries() -> list[ModelEntry]:
    """Bundled models, described fresh each time (they are not stored in the list). The Gemma
    comparison model is listed as soon as its package is installed; its file is assembled into
    the models folder on first use (bundled.prepare), so it is never "missing"."""
    entries = []
    for path in bundled.bundled_chat_models():
        entries.append(ModelEntry(BUNDLED_CHAT_ID, str(path), "bundled", _cached_facts(path),
                                  note=bundled.NOTES[BUNDLED_CHAT_ID]))
    gemma = bundled.comparison_base_target(models_dir())
    if gemma is not None:
        facts = _cached_facts(gemma) if gemma.is_file() else bundled.comparison_base_facts()
        if facts is None:  # a package of another version: assemble it now to read its facts
            facts = _cached_facts(bundled.prepare(gemma))
        entries.append(ModelEntry(bundled.COMPARISON_BASE_ID, str(gemma), "bundled", facts,
                                  managed=True, note=bundled.NOTES[bundled.COMPARISON_BASE_ID]))
    return entries


def _on_disk(entry: ModelEntry) -> bool:
    """Whether the entry's file is there, or will be made on first use (a bundled model)."""
    return Path(entry.path).is_file() or entry.name == bundled.COMPARISON_BASE_ID


def library_name(text: str) -> str:
    """`text` as a model name: letters, digits and `._-:` ("ollama:llama3.2:1b", as Ollama
    writes model:tag); anything else becomes "-"."""
    text = re.sub(r"\.gguf$", "", text, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9._:-]+", "-", text).strip("-.:") or "model"


def _unique(base: str, taken: set[str]) -> str:
    lowered = {t.lower() for t in taken}
    name, n = base, 2
    while name.lower() in lowered:
        name, n = f"{base}-{n}", n + 1
    return name


def _unique_file(folder: Path, filename: str) -> Path:
    target = folder / filename
    stem, suffix, n = target.stem, target.suffix, 2
    while target.exists():
        target, n = folder / f"{stem}-{n}{suffix}", n + 1
    return target


class ModelRegistry:
    """The model library. Cheap to create; every call reads the current list from disk."""

    def models(self) -> list[ModelEntry]:
        """Every model: bundled first, then imported and downloaded ones in the order added."""
        state = _load()
        entries = _bundled_entries() + state.models
        default = self._default_name(state, entries)
        return [replace(e, is_default=e.name == default, missing=not _on_disk(e))
                for e in entries]

    def get(self, name: str) -> ModelEntry:
        """The model called `name` (case does not matter), else UnknownModel."""
        entries = self.models()
        for match in (lambda e: e.name == name, lambda e: e.name.lower() == name.lower()):
            found = [e for e in entries if match(e)]
            if found:
                return found[0]
        names = ", ".join(e.name for e in entries) or "none yet"
        raise UnknownModel(f"No model named {name!r} in the library (installed: {names}). "
                           "`glassbox models list` shows them; `glassbox models import` adds one.")

    def default(self) -> ModelEntry | None:
        """The model chosen when none is named: the one set as default, else the bundled one."""
        return next((e for e in self.models() if e.is_default), None)

    def set_default(self, name: str) -> ModelEntry:
        entry = self.get(name)
        if entry.missing:
            raise ModelLibraryError(f"{entry.name}'s file is missing ({entry.path}); it cannot "
                                    "be the default. Remove it or put the file back.")
        with _file_lock():
            state = _load()
            state.default = entry.name
            _save(state)
        return replace(entry, is_default=True)

    def resolve(self, spec: str | os.PathLike[str] | None) -> Path:
        """The file to load for `spec`: a registered name, a path to a GGUF, or None for the
        default model. Unknown names raise UnknownModel; paths are checked by the loader."""
        if spec is None:
            entry = self.default()
            if entry is None:
                return bundled.default_chat_model()  # raises with how to install it
            return self._existing(entry)
        path = Path(spec).expanduser()
        if path.is_file():
            return path
        text = str(spec)
        try:
            return self._existing(self.get(text))
        except UnknownModel:
            if text.lower().endswith(".gguf") or os.sep in text or "/" in text:
                return path  # looks like a path: the loader says "not found" with the path
            raise

    @staticmethod
    def _existing(entry: ModelEntry) -> Path:
        if entry.missing:
            raise ModelLoadError(f"Model file not found: {entry.path} (model {entry.name}). "
                                 "Put the file back, or remove the model from the library.")
        return bundled.prepare(entry.path)

    @staticmethod
    def _default_name(state: _State, entries: list[ModelEntry]) -> str | None:
        names = [e.name for e in entries]
        if state.default in names:
            return state.default
        if BUNDLED_CHAT_ID in names:
            return BUNDLED_CHAT_ID
        return names[0] if names else None

    # -- adding ------------------------------------------------------------------------------
    def import_file(self, path: str | os.PathLike[str], *, copy: bool = True,
                    name: str | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    cancel: CancelToken | None = None) -> ModelEntry:
        """Check a local GGUF and add it: copied into the data folder (`copy`), or used where
        it is. `progress(bytes_done, total)` follows the copy; `cancel` stops it (Cancelled),
        leaving nothing behind. Importing the same file again returns its existing entry."""
        source = Path(path).expanduser().resolve()
        facts = read_facts(source)  # ModelImportError with the reason, before any copying
        for entry in self.models():
            if entry.origin == str(source) and entry.facts.file_size == facts.file_size \
                    and not entry.missing:
                return entry
        if not copy:
            return self._register(source, "imported", facts, name=name, origin=str(source))
        target = self._copy_in(source, facts.file_size, progress, cancel)
        try:
            read_facts(target)  # the copy, not just the original, must be whole
            return self._register(target, "imported", facts, name=name, origin=str(source),
                                  managed=True)
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def _copy_in(self, source: Path, size: int, progress: Callable[[int, int], None] | None,
                 cancel: CancelToken | None) -> Path:
        folder = models_dir()
        free = shutil.disk_usage(folder).free
        if free < size:
            raise ModelImportError(
                f"Not enough disk space to copy {source.name}: it needs {size / 1e9:.1f} GB, "
                f"{free / 1e9:.1f} GB are free in {folder}. Free some space, or import it "
                "in place (it stays where it is)."
            )
        part = partial_dir() / f"import-{uuid.uuid4().hex}.part"
        try:
            with source.open("rb") as src, part.open("wb") as dst:
                done = 0
                while chunk := src.read(_COPY_CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(f"Import of {source.name} cancelled.")
                    dst.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, size)
                dst.flush()
                os.fsync(dst.fileno())
            target = _unique_file(folder, source.name)
            os.replace(part, target)
        except OSError as exc:
            raise ModelImportError(f"Could not copy {source.name} into {folder}: "
                                   f"{exc.strerror or exc}") from exc
        finally:
            part.unlink(missing_ok=True)
        return target

    def register_download(self, path: Path, facts: ModelFacts, *, repo_id: str, filename: str,
                          sha256: str | None, name: str | None = None) -> ModelEntry:
        """Add a finished, verified download (already in the models folder)."""
        return self._register(path, "downloaded", facts, name=name,
                              origin=f"hub:{repo_id}/{filename}",
                              managed=True, repo_id=repo_id, filename=filename, sha256=sha256)

    def _register(self, path: Path, source: str, facts: ModelFacts, *, name: str | None = None,
                  origin: str | None = None, managed: bool = False, repo_id: str | None = None,
                  filename: str | None = None, sha256: str | None = None) -> ModelEntry:
        with _file_lock():
            state = _load()
            taken = {e.name for e in state.models} | {b.name for b in _bundled_entries()}
            wanted = library_name(name) if name else library_name(path.name)
            if name and wanted.lower() in {t.lower() for t in taken}:
                raise ModelLibraryError(f"There is already a model named {wanted!r}; "
                                        "choose another name.")
            entry = ModelEntry(_unique(wanted, taken), str(path), source, facts, managed=managed,
                               origin=origin, repo_id=repo_id, filename=filename, sha256=sha256,
                               added_at=time.time())
            state.models.append(entry)
            _save(state)
        return entry

    # -- removing ----------------------------------------------------------------------------
    def remove(self, name: str, *, delete_file: bool = False) -> ModelEntry:
        """Take a model out of the library. With `delete_file`, also delete its file, which
        Glassbox does only for its own copies and downloads, never for a file used in place."""
        entry = self.get(name)
        if entry.source == "bundled":
            raise ModelLibraryError(f"{entry.name} ships with Glassbox and cannot be removed.")
        if delete_file and not entry.managed:
            raise ModelLibraryError(
                f"{entry.name} is your own file at {entry.path}; Glassbox does not delete "
                "files it did not copy or download. Remove it without deleting the file, then "
                "delete the file yourself if you want to."
            )
        with _file_lock():
            state = _load()
            state.models = [m for m in state.models if m.name != entry.name]
            if state.default == entry.name:
                state.default = None
            _save(state)
        if delete_file:
            try:
                Path(entry.path).unlink(missing_ok=True)
            except OSError as exc:
                raise ModelLibraryError(f"{entry.name} was removed from the library, but its "
                                        f"file could not be deleted: {exc}") from exc
        return entry
