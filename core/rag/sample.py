"""The sample collection: a short guide to the ideas Glassbox shows, indexed on first run.

A new user can chat with documents at once. The guide ships in `resources/sample_docs/`; it is
copied next to the database before it is added, so the indexed paths stay valid when the app
moves (a new install folder, an AppImage mounted somewhere else on every start, a PyInstaller
one-file build unpacked to a fresh temporary folder on every start).

Whether the guide was already added is remembered in the database's settings table, so a user
who removes the collection does not get it back on the next start; `add_sample_collection`
(the CLI's `glassbox docs sample`) brings it back on request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.rag.errors import IndexingError
from core.rag.library import CancelToken, DocumentLibrary, IndexProgress, IndexSummary
from core.store.settings import SettingsStore

SAMPLE_COLLECTION = "Glassbox guide"
GUIDE_SUFFIXES = (".md", ".pdf")
COPY_FOLDER = "sample_docs"  # beside the database file

# Settings key: absent before the first run, "added" once the collection was created (indexing
# may not have finished, or a file failed), "done" once all of it was indexed or the user
# removed it.
STATE_KEY = "rag.sample_collection"  # tests set it to "done" to skip the guide
_ADDED, _DONE = "added", "done"

Progress = Callable[[IndexProgress], None]


def sample_docs_folder() -> Path:
    """`resources/sample_docs` of this installation (it may be missing in a stripped build)."""
    # core/rag/sample.py -> the folder that holds core/ and resources/. A PyInstaller build sets
    # __file__ under sys._MEIPASS the same way, so packaging/glassbox.spec must bundle
    # resources/sample_docs (the guide files, not source/) as data at that same relative path.
    return Path(__file__).resolve().parents[2] / "resources" / "sample_docs"


def guide_files(folder: Path | None = None) -> list[Path]:
    """The guide's Markdown and PDF files, in name order; the `source/` folder is not part."""
    folder = folder or sample_docs_folder()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in GUIDE_SUFFIXES
                  and not p.name.startswith("."))


def ensure_sample_collection(library: DocumentLibrary, progress: Progress | None = None,
                             cancel: CancelToken | None = None) -> bool:
    """Add and index the sample collection the first time only; True when it indexed now.

    Later calls return False at once, also after the user removed the collection. A run that
    was cancelled or crashed, or in which a guide file failed, is picked up by the next call.
    False, without error, when the guide's files are not installed.
    """
    settings = SettingsStore(library.store.conn)
    state = settings.get(STATE_KEY)
    if state == _DONE:
        return False
    exists = _collection_exists(library)
    if state == _ADDED and not exists:  # removed before its first indexing finished
        settings.set(STATE_KEY, _DONE)
        return False
    files = guide_files()
    if not files:
        return False
    # Copied again on a retry too, so a guide file fixed by an update replaces a failed one.
    library.add_paths(SAMPLE_COLLECTION, _copy_guide(files, _copy_folder(library)))
    settings.set(STATE_KEY, _ADDED)
    summary = library.index(SAMPLE_COLLECTION, progress=progress, cancel=cancel,
                            retry_failed=True)
    if summary.cancelled:
        return False
    if not summary.failed:  # a broken parser process or a bad update: try again next time
        settings.set(STATE_KEY, _DONE)
    return True


def add_sample_collection(library: DocumentLibrary, progress: Progress | None = None,
                          cancel: CancelToken | None = None) -> IndexSummary:
    """Add the guide again (on request, e.g. after it was removed) and bring its index up to
    date; files of the guide that changed since are re-indexed. Raises IndexingError when the
    guide's files are not installed."""
    files = guide_files()
    if not files:
        raise IndexingError(f"The sample documents are not installed (looked in "
                            f"{sample_docs_folder()}).")
    library.add_paths(SAMPLE_COLLECTION, _copy_guide(files, _copy_folder(library)))
    summary = library.index(SAMPLE_COLLECTION, progress=progress, cancel=cancel,
                            retry_failed=True)
    if not summary.cancelled:
        SettingsStore(library.store.conn).set(STATE_KEY, _DONE)
    return summary


def _collection_exists(library: DocumentLibrary) -> bool:
    return any(c.name == SAMPLE_COLLECTION for c in library.list_collections())


def _copy_folder(library: DocumentLibrary) -> Path:
    return Path(library.store.path).parent / COPY_FOLDER


def _copy_guide(files: list[Path], target: Path) -> list[Path]:
    """Copy the guide into `target`, rewriting only files whose content changed (so unchanged
    ones keep their mtime and are not even hashed again) and deleting guide files of an older
    version that this one no longer has."""
    target.mkdir(parents=True, exist_ok=True)
    names = {f.name for f in files}
    for stale in guide_files(target):
        if stale.name not in names:
            stale.unlink()
    copies = []
    for source in files:
        copy = target / source.name
        data = source.read_bytes()
        if not copy.is_file() or copy.read_bytes() != data:
            partial = copy.with_name(copy.name + ".partial")
            partial.write_bytes(data)
            partial.replace(copy)  # never a half-written guide file, even after a crash
        copies.append(copy)
    return copies
