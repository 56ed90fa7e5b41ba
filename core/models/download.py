"""Resumable, verified model downloads from the hub, as an iterator of progress events.

`download_events` yields plain `DownloadProgress` events and checks a cancel token between
chunks, so a Qt worker can drive it and forward each event as a signal. Cancelling is a pause:
the partial file stays in `models/.partial/` with a note of what it is, and the next download
of the same file continues from where it stopped (HTTP Range). The file joins the library only
after its size and sha256 match the hub's LFS metadata and its GGUF header reads well; a
mismatch deletes it, so nothing half-downloaded is ever registered.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.errors import DownloadError, HubError, ModelImportError
from core.models.hub import HubFile, hub_endpoint, hub_errors, repo_files
from core.models.metadata import format_bytes, read_facts
from core.models.registry import ModelEntry, ModelRegistry, models_dir, partial_dir

STAGES = ("started", "downloading", "retrying", "verifying", "done", "paused")
_EVENT_EVERY_S = 0.2  # progress events at most this often (a GUI repaints on each)
_SPEED_WINDOW_S = 5.0
_HASH_CHUNK = 4 << 20
_TIMEOUT_S = 30.0

_active: set[str] = set()
_active_lock = threading.Lock()


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class DownloadProgress:
    """One step of a download. The last event is "done" (with `model`) or "paused"; failures
    raise DownloadError instead, after keeping what can be resumed."""

    stage: str  # one of STAGES
    repo_id: str
    filename: str
    bytes_done: int  # while "verifying": bytes checked so far
    total: int
    speed_bps: float | None = None
    eta_s: float | None = None
    message: str | None = None
    model: ModelEntry | None = None


@dataclass(frozen=True)
class PartialDownload:
    repo_id: str
    filename: str
    bytes_done: int
    total: int | None
    path: Path


def _key(repo_id: str, filename: str) -> str:
    return f"{repo_id}/{filename}".replace("/", "--")


def _paths(repo_id: str, filename: str) -> tuple[Path, Path]:
    base = partial_dir() / _key(repo_id, filename)
    return base.with_name(base.name + ".part"), base.with_name(base.name + ".json")


def partial_downloads() -> list[PartialDownload]:
    """Paused or broken downloads that can be resumed (or discarded)."""
    found = []
    for note in sorted(partial_dir().glob("*.json")):
        try:
            meta = json.loads(note.read_text(encoding="utf-8"))
            part = note.with_suffix(".part")
            done = part.stat().st_size if part.exists() else 0
            found.append(PartialDownload(meta["repo_id"], meta["filename"], done,
                                         meta.get("size"), part))
        except (OSError, ValueError, KeyError):
            continue
    return found


def discard_partial(repo_id: str, filename: str) -> bool:
    """Cancel for good: delete what a paused download received. True if there was something."""
    part, note = _paths(repo_id, filename)
    existed = part.exists() or note.exists()
    part.unlink(missing_ok=True)
    note.unlink(missing_ok=True)
    return existed


class _Speed:
    """Bytes per second over the last few seconds: steadier than one chunk, quicker than all."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> float | None:
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > _SPEED_WINDOW_S:
            self._samples.popleft()
        t0, d0 = self._samples[0]
        return (done - d0) / (now - t0) if now > t0 else None


def _start_note(note: Path, repo_id: str, filename: str, revision: str, file: HubFile) -> None:
    data = {"repo_id": repo_id, "filename": filename, "revision": revision,
            "size": file.size, "sha256": file.sha256}
    tmp = note.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, note)


def _resumable(part: Path, note: Path, file: HubFile) -> int:
    """Bytes of a previous attempt to continue from; 0 (and a clean slate) when the partial
    file is of another version of the file, or longer than the file can be."""
    try:
        meta = json.loads(note.read_text(encoding="utf-8"))
        same = meta.get("sha256") == file.sha256 and meta.get("size") == file.size
        done = part.stat().st_size
    except (OSError, ValueError):
        same, done = False, 0
    if same and (file.size is None or done <= file.size):
        return done
    part.unlink(missing_ok=True)
    return 0


def download_events(repo_id: str, filename: str, *, revision: str = "main",
                    cancel: CancelToken | None = None, retries: int = 3,
                    retry_wait_s: float = 1.0, name: str | None = None,
                    registry: ModelRegistry | None = None) -> Iterator[DownloadProgress]:
    """Download one GGUF file of `repo_id`, verify it and add it to the library.

    Resumes a partial download of the same file. A broken connection is retried `retries`
    times, each continuing where the data stopped; after that DownloadError says how far it
    got (run it again to resume). Setting `cancel` pauses: the last event is "paused".
    """
    key = _key(repo_id, filename)
    with _active_lock:
        if key in _active:
            raise DownloadError(f"{filename} from {repo_id} is already being downloaded.")
        _active.add(key)
    try:
        yield from _download(repo_id, filename, revision, cancel, retries, retry_wait_s, name,
                             registry or ModelRegistry())
    finally:
        with _active_lock:
            _active.discard(key)


def pull(repo_id: str, filename: str, *,
         progress: Callable[[DownloadProgress], None] | None = None,
         cancel: CancelToken | None = None, **options: Any) -> ModelEntry | None:
    """Run `download_events` to the end; the new library entry, or None when paused."""
    model = None
    for event in download_events(repo_id, filename, cancel=cancel, **options):
        if progress is not None:
            progress(event)
        model = event.model or model
    return model


def _download(repo_id: str, filename: str, revision: str, cancel: CancelToken | None,
              retries: int, retry_wait_s: float, name: str | None,
              registry: ModelRegistry) -> Iterator[DownloadProgress]:
    try:
        repo = repo_files(repo_id, revision)
        file = repo.file(filename)
    except HubError as exc:
        raise DownloadError(str(exc)) from exc
    if file.parts > 1:
        raise DownloadError(f"{filename} is one part of a model split into {file.parts} files; "
                            "Glassbox downloads single-file models only. Choose another file.")
    for entry in registry.models():
        if entry.repo_id == repo_id and entry.filename == filename and not entry.missing \
                and (file.sha256 is None or entry.sha256 == file.sha256):
            yield DownloadProgress("done", repo_id, filename, entry.facts.file_size,
                                   entry.facts.file_size, message="already in the library",
                                   model=entry)
            return
    part, note = _paths(repo_id, filename)
    done = _resumable(part, note, file)
    total = file.size or 0
    free = shutil.disk_usage(partial_dir()).free
    if total and free < total - done:
        raise DownloadError(f"Not enough disk space for {filename}: it needs "
                            f"{format_bytes(total - done)} more, {format_bytes(free)} are free.")
    _start_note(note, repo_id, filename, repo.revision, file)
    yield DownloadProgress("started", repo_id, filename, done, total,
                           message="resuming" if done else None)
    url = _file_url(repo_id, filename, repo.revision)
    yield from _transfer(url, part, repo_id, filename, done, total, cancel, retries, retry_wait_s)
    if cancel is not None and cancel.is_set():
        return
    yield from _finish(part, note, file, repo_id, filename, cancel, name, registry)


class _Transient(Exception):
    """A failure worth retrying: the connection broke, or the server is briefly unwell."""


def _transfer(url: str, part: Path, repo_id: str, filename: str, done: int, total: int,
              cancel: CancelToken | None, retries: int,
              retry_wait_s: float) -> Iterator[DownloadProgress]:
    """Stream the file into `part`, retrying broken connections from where the data stopped."""
    import httpx2

    failures = 0  # in a row, without new data in between
    while True:
        before = done
        try:
            for event in _stream(url, part, repo_id, filename, done, total, cancel):
                done = event.bytes_done
                yield event
            return
        except (httpx2.TransportError, _Transient) as exc:
            done = part.stat().st_size if part.exists() else 0
            failures = 1 if done > before else failures + 1
            if failures > retries:
                raise DownloadError(
                    f"The download of {filename} broke off at {format_bytes(done)} of "
                    f"{format_bytes(total)} ({_describe(exc)}). What arrived is kept: run the "
                    "same download again to resume it."
                ) from exc
            yield DownloadProgress("retrying", repo_id, filename, done, total,
                                   message=_describe(exc))
            time.sleep(retry_wait_s * failures)
        except HubError as exc:
            raise DownloadError(str(exc)) from exc
        except OSError as exc:  # the disk, not the network: retrying will not help
            raise DownloadError(f"Could not write {part}: {exc.strerror or exc}. Check the "
                                "free space and permissions of the data folder.") from exc


def _file_url(repo_id: str, filename: str, revision: str) -> str:
    from huggingface_hub import hf_hub_url

    # Pinned to the listed commit: a repository updated mid-download cannot mix two versions.
    return str(hf_hub_url(repo_id, filename, revision=revision, endpoint=hub_endpoint()))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _stream(url: str, part: Path, repo_id: str, filename: str, done: int, total: int,
            cancel: CancelToken | None) -> Iterator[DownloadProgress]:
    """One HTTP request from byte `done` on, appended to `part`."""
    import httpx2
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    if total and done >= total:
        return
    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"  # byte offsets must be offsets in the file
    if done:
        headers["Range"] = f"bytes={done}-"
    speed = _Speed()
    timeout = httpx2.Timeout(_TIMEOUT_S)
    with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
        if response.status_code == 416 and total and done >= total:
            return
        if response.status_code >= 400:
            response.read()
            status = response.status_code
            if status == 429 or status >= 500:
                raise _Transient(f"HTTP {status} from the server")
            with hub_errors(f"Downloading {filename}"):
                hf_raise_for_status(response)
            raise DownloadError(f"Downloading {filename}: HTTP {status}.")
        if done and response.status_code != 206:
            done = 0  # the server ignored the Range header and sends it all: start over
        mode = "ab" if done else "wb"
        last = 0.0
        with part.open(mode) as out:
            # As the network delivers (no re-chunking buffer): when the connection breaks,
            # everything received is already on disk for the resume.
            for chunk in response.iter_bytes():
                out.write(chunk)
                done += len(chunk)
                if total and done > total:
                    out.close()
                    part.unlink(missing_ok=True)
                    raise DownloadError(f"The hub sent more of {filename} than its listed size "
                                        f"({format_bytes(total)}); the data was discarded.")
                now = time.monotonic()
                rate = speed.add(now, done)
                if cancel is not None and cancel.is_set():
                    out.flush()
                    yield DownloadProgress("paused", repo_id, filename, done, total,
                                           message="paused: run the download again to resume")
                    return
                if now - last >= _EVENT_EVERY_S:
                    last = now
                    eta = (total - done) / rate if rate and total else None
                    yield DownloadProgress("downloading", repo_id, filename, done, total,
                                           rate, eta)
    if total and done < total:
        raise _Transient(f"the connection ended early at {done} of {total} bytes")
    yield DownloadProgress("downloading", repo_id, filename, done, total or done)


def _sha256(part: Path, repo_id: str, filename: str, cancel: CancelToken | None,
            digest: list[str]) -> Iterator[DownloadProgress]:
    h = hashlib.sha256()
    size = part.stat().st_size
    done, last = 0, 0.0
    with part.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
            done += len(chunk)
            if cancel is not None and cancel.is_set():
                yield DownloadProgress("paused", repo_id, filename, done, size,
                                       message="paused while checking the file")
                return
            if time.monotonic() - last >= _EVENT_EVERY_S:
                last = time.monotonic()
                yield DownloadProgress("verifying", repo_id, filename, done, size)
    digest.append(h.hexdigest())


def _finish(part: Path, note: Path, file: HubFile, repo_id: str, filename: str,
            cancel: CancelToken | None, name: str | None,
            registry: ModelRegistry) -> Iterator[DownloadProgress]:
    size = part.stat().st_size
    if file.size is not None and size != file.size:
        discard_partial(repo_id, filename)
        raise DownloadError(f"{filename} arrived with {format_bytes(size)}, but the hub lists "
                            f"{format_bytes(file.size)}. It was deleted; download it again.")
    digest: list[str] = []
    for event in _sha256(part, repo_id, filename, cancel, digest):
        yield event
        if event.stage == "paused":
            return
    if file.sha256 is not None and digest[0] != file.sha256.lower():
        discard_partial(repo_id, filename)
        raise DownloadError(
            f"{filename} failed its checksum: the hub lists sha256 {file.sha256[:16]}…, the "
            f"received file has {digest[0][:16]}…. It was deleted and nothing was added to the "
            "library. Download it again; if this repeats, a proxy or the mirror is altering it."
        )
    target = _final_path(filename)
    os.replace(part, target)
    note.unlink(missing_ok=True)
    try:
        facts = read_facts(target)
        entry = registry.register_download(target, facts, repo_id=repo_id, filename=filename,
                                           sha256=digest[0], name=name)
    except ModelImportError as exc:
        target.unlink(missing_ok=True)
        raise DownloadError(f"{filename} downloaded intact but is not a model Glassbox can "
                            f"use: {exc} It was deleted.") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    yield DownloadProgress("done", repo_id, filename, size, size, model=entry)


def _final_path(filename: str) -> Path:
    folder = models_dir()
    base = Path(filename).name
    target = folder / base
    stem, n = target.stem, 2
    while target.exists():
        target, n = folder / f"{stem}-{n}.gguf", n + 1
    return target

