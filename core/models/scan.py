"""Find GGUF models other apps already downloaded, and register the chosen ones where they are.

`scan()` looks in Ollama's, LM Studio's, GPT4All's and Jan's folders (scan_apps.py knows their
layouts) and in any folder the user adds, and checks every candidate with the project's own
header reader before listing it: an Ollama blob is listed only if its magic says GGUF, a cut or
mislabelled `.gguf` is reported as skipped with the reason, never offered. Nothing is copied:
`register()` adds a file in place (ModelRegistry.import_file with copy=False), so a file moved
or deleted later shows as missing in the library.

Walking a user's folder is bounded: a directory reached twice (a symlink loop, or two links to
one folder) is searched once, and the walk stops MAX_DEPTH folders below its root. A long scan
can be followed (`progress`) and stopped (`cancel`, which raises Cancelled).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import Cancelled, GlassboxError
from core.models.metadata import ModelFacts, read_facts
from core.models.registry import CancelToken, ModelEntry, ModelRegistry, library_name
from core.models.scan_apps import (
    APP_NAMES,
    FOLDER,
    JAN,
    OLLAMA,
    ManifestError,
    ScanRoot,
    default_roots,
    jan_model_path,
    ollama_manifests,
    read_manifest,
)

MAX_DEPTH = 12  # folders below a root; LM Studio's layout is 2 deep, Jan's 1
_LATER_SHARD = re.compile(r"-(\d{5})-of-\d{5}\.gguf$", re.IGNORECASE)
# Files that are GGUF but not a model one can chat with on its own.
_PROJECTOR_ARCHES = {"clip"}

Progress = Callable[[int, str], None]  # (files checked so far, the file or folder at hand)


@dataclass(frozen=True)
class FoundModel:
    """One GGUF file another app (or a folder) holds, checked and described."""

    path: str  # the file as found (an Ollama blob, an LM Studio .gguf, ...)
    source: str  # "ollama", "lmstudio", "gpt4all", "jan" or "folder"
    name: str  # the name suggested for the library: "ollama:llama3.2:1b"
    facts: ModelFacts
    label: str  # how the app calls it: "llama3.2:1b", "publisher/repo/file.gguf"
    registered_as: str | None = None  # its name in the library, if it is there already
    aliases: tuple[str, ...] = ()  # other names for the same file (Ollama tags of one blob)

    @property
    def app(self) -> str:
        return APP_NAMES.get(self.source, self.source)

    @property
    def registered(self) -> bool:
        return self.registered_as is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["facts"] = self.facts.to_dict()
        data["aliases"] = list(self.aliases)
        data["app"] = self.app
        return data


@dataclass(frozen=True)
class Skipped:
    """A file or folder the scan could not use, and why (for a person)."""

    path: str
    source: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Searched:
    source: str
    path: str
    exists: bool


@dataclass
class ScanResult:
    models: list[FoundModel] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    searched: list[Searched] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"models": [m.to_dict() for m in self.models],
                "skipped": [s.to_dict() for s in self.skipped],
                "searched": [asdict(s) for s in self.searched]}


@dataclass(frozen=True)
class _Candidate:
    path: Path
    source: str
    name: str
    label: str


def scan(roots: Sequence[ScanRoot] | None = None, *, folders: Iterable[str | os.PathLike[str]] = (),
         home: str | os.PathLike[str] | None = None, cancel: CancelToken | None = None,
         progress: Progress | None = None, max_depth: int = MAX_DEPTH) -> ScanResult:
    """Every GGUF model in `roots` (default: the apps' folders under `home`, default the user's
    home) and in `folders` (searched recursively). Reads headers only, never weights."""
    if roots is None:
        roots = default_roots(Path(home) if home is not None else None)
    all_roots = list(roots) + [ScanRoot(FOLDER, Path(f).expanduser()) for f in folders]
    return _Scanner(cancel, progress, max_depth).run(all_roots)


class _Scanner:
    def __init__(self, cancel: CancelToken | None, progress: Progress | None,
                 max_depth: int) -> None:
        self._cancel, self._progress, self._max_depth = cancel, progress, max_depth
        self.result = ScanResult()
        self._by_file: dict[_FileId, int] = {}  # the file -> its index in result.models
        self._checked = 0
        self._registered = _registered_paths()

    def run(self, roots: list[ScanRoot]) -> ScanResult:
        for root in roots:
            exists = root.path.is_dir()
            self.result.searched.append(Searched(root.source, str(root.path), exists))
            if not exists:
                if root.source == FOLDER:  # one the user named: say so; the apps' may be absent
                    self._skip(root.path, root.source, f"{root.path} is not a folder.")
                continue
            found = self._ollama(root) if root.kind == "ollama" else self._tree(root)
            for candidate in found:
                self._check(candidate)
        return self.result

    # -- finding candidates ------------------------------------------------------------------
    def _ollama(self, root: ScanRoot) -> Iterable[_Candidate]:
        try:
            manifests = list(ollama_manifests(root.path))
        except OSError as exc:
            self._skip(root.path, OLLAMA, f"Could not read Ollama's folder {root.path}: "
                                          f"{exc.strerror or exc}.")
            return
        for manifest in manifests:
            self._stop_if_asked()
            try:
                model = read_manifest(manifest, root.path)
            except ManifestError as exc:
                self._skip(manifest, OLLAMA, str(exc))
                continue
            if model.blob is None:
                self._skip(manifest, OLLAMA, f"Ollama's {model.name} has no model weights "
                                             "layer (not a GGUF model); skipped.")
                continue
            if not model.blob.is_file():
                self._skip(model.blob, OLLAMA,
                           f"Ollama's manifest for {model.name} names the blob "
                           f"{model.blob.name}, which is not in {model.blob.parent} (a pull "
                           f"that did not finish?); skipped. `ollama pull {model.name}` "
                           "fetches it again.")
                continue
            yield _Candidate(model.blob, OLLAMA, f"ollama:{model.name}", model.name)

    def _tree(self, root: ScanRoot) -> Iterable[_Candidate]:
        """Every .gguf below root.path (and, for Jan, what its model.yml files point at). Each
        directory is entered once, by its device and inode, so a symlink loop ends; the walk
        goes no deeper than max_depth."""
        seen: set[tuple[int, int]] = set()
        too_deep_said = False
        stack = [(root.path, 0)]
        while stack:
            folder, depth = stack.pop()
            self._stop_if_asked()
            try:
                st = folder.stat()
            except OSError as exc:
                self._skip(folder, root.source, f"Could not open {folder}: "
                                                f"{exc.strerror or exc}.")
                continue
            if (st.st_dev, st.st_ino) in seen:
                self._skip(folder, root.source,
                           f"{folder} leads back to a folder already searched (a symbolic "
                           "link loop, or a second link to it); not followed again.")
                continue
            seen.add((st.st_dev, st.st_ino))
            if self._progress is not None:
                self._progress(self._checked, str(folder))
            try:
                with os.scandir(folder) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
            except OSError as exc:
                self._skip(folder, root.source, f"Could not read the folder {folder}: "
                                                f"{exc.strerror or exc}; not searched.")
                continue
            below: list[tuple[Path, int]] = []
            for entry in entries:
                path = Path(entry.path)
                try:
                    is_dir = entry.is_dir()
                    is_file = not is_dir and entry.is_file()
                except OSError:
                    is_dir = is_file = False
                if is_dir:
                    if depth + 1 > self._max_depth:
                        if not too_deep_said:
                            self._skip(path, root.source,
                                       f"Folders more than {self._max_depth} levels below "
                                       f"{root.path} were not searched (starting at {path}).")
                            too_deep_said = True
                        continue
                    below.append((path, depth + 1))
                elif entry.name.lower().endswith(".gguf"):
                    if not is_file:
                        self._skip(path, root.source, f"{path} is a link to a file that is "
                                                      "not there; skipped.")
                        continue
                    candidate = self._tree_candidate(root, path)
                    if candidate is not None:
                        yield candidate
                elif root.source == JAN and entry.name == "model.yml":
                    target = jan_model_path(path)
                    if target is not None and target.is_file():
                        yield _Candidate(target, JAN, f"jan:{path.parent.name}",
                                         path.parent.name)
            stack.extend(reversed(below))  # popped in name order: a stable, readable list

    def _tree_candidate(self, root: ScanRoot, path: Path) -> _Candidate | None:
        shard = _LATER_SHARD.search(path.name)
        if shard is not None and int(shard.group(1)) > 1:
            return None  # a later part of a split model: llama.cpp opens it from the first
        label = path.relative_to(root.path).as_posix()
        stem = re.sub(r"\.gguf$", "", path.name, flags=re.IGNORECASE)
        if root.source == FOLDER:
            return _Candidate(path, FOLDER, stem, str(path))
        if root.source == JAN and path.parent != root.path:
            # Jan names a model by its folder ("<id>/model.gguf"); the file name says little.
            return _Candidate(path, JAN, f"jan:{path.parent.name}", label)
        return _Candidate(path, root.source, f"{root.source}:{stem}", label)

    # -- checking ----------------------------------------------------------------------------
    def _check(self, candidate: _Candidate) -> None:
        self._stop_if_asked()
        real = _identity(candidate.path)
        if real in self._by_file:  # one file, two names (Ollama tags of one blob, links)
            index = self._by_file[real]
            known = self.result.models[index]
            if candidate.name != known.name and candidate.name not in known.aliases:
                self.result.models[index] = _with_alias(known, candidate.name)
            return
        self._checked += 1
        if self._progress is not None:
            self._progress(self._checked, str(candidate.path))
        try:
            facts = read_facts(candidate.path)
        except GlassboxError as exc:
            what = f"{APP_NAMES.get(candidate.source)}'s {candidate.label}" \
                if candidate.source != FOLDER else str(candidate.path)
            self._skip(candidate.path, candidate.source, f"{what}: {exc}")
            return
        if facts.architecture in _PROJECTOR_ARCHES:
            return  # a vision projector: it goes with a model, it is not one
        self._by_file[real] = len(self.result.models)
        self.result.models.append(FoundModel(
            str(candidate.path), candidate.source, candidate.name, facts, candidate.label,
            registered_as=self._registered.get(real)))

    def _skip(self, path: Path, source: str, message: str) -> None:
        self.result.skipped.append(Skipped(str(path), source, message))

    def _stop_if_asked(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled("The search for models was cancelled.")


def _with_alias(model: FoundModel, name: str) -> FoundModel:
    from dataclasses import replace

    # Prefer a specific tag over "latest" as the suggested name: "llama3.2:3b" says the size.
    if model.name.endswith(":latest") and not name.endswith(":latest"):
        return replace(model, name=name, aliases=(*model.aliases, model.name))
    return replace(model, aliases=(*model.aliases, name))


_FileId = tuple[int, int] | str


def _identity(path: str | Path) -> _FileId:
    """What makes two paths one file: device and inode, so a symbolic or a hard link to a
    file seen already (apps' folders linked to share models) is the same model."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def _registered_paths() -> dict[_FileId, str]:
    """File -> library name, for the models already in the library (and on disk)."""
    known: dict[_FileId, str] = {}
    for entry in ModelRegistry().models():
        if entry.missing:
            continue
        for path in (entry.path, entry.origin):
            if path and not path.startswith("hub:"):
                known.setdefault(_identity(path), entry.name)
    return known


def register(found: FoundModel, name: str | None = None) -> ModelEntry:
    """Add `found` to the library in place (no copy). The file is checked again (it may have
    changed since the scan). The suggested name gets "-2" and so on if another model has it; a
    `name` the user chose must be free. A file already in the library returns its entry."""
    registry = ModelRegistry()
    if name is None:
        taken = {e.name.lower() for e in registry.models()}
        base = library_name(found.name)
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}-{n}", n + 1
    return registry.import_file(found.path, copy=False, name=name)


def find(result: ScanResult, name: str) -> FoundModel | None:
    """The found model called `name` (its suggested name, an alias, or its path)."""
    lowered = name.lower()
    for model in result.models:
        names = {model.name.lower(), *(a.lower() for a in model.aliases), model.path.lower()}
        if lowered in names:
            return model
    return None
