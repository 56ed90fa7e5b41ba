"""Hub search, file listing and downloads against a local hub: resume, pause, bad checksums."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_hub import FakeHub

from core.errors import DownloadError, HubError
from core.models.download import (
    DownloadProgress,
    discard_partial,
    download_events,
    partial_downloads,
    pull,
)
from core.models.hardware import HardwareInfo
from core.models.hub import HubFile, recommend_file, repo_files, search_models
from core.models.registry import ModelRegistry, models_dir, partial_dir

REPO = "tester/Tiny-GGUF"
FILE = "tiny-Q8_0.gguf"


def _padded_gguf(make_gguf: Callable[..., Path], name: str = FILE) -> Path:
    """A valid GGUF with a few MB of trailing bytes, so a download takes many chunks."""
    path = make_gguf(name)
    with path.open("ab") as f:
        f.write(bytes(range(256)) * 12_000)  # ~3 MB; readers ignore bytes after the tensors
    return path


def _registered() -> list[str]:
    return [e.name for e in ModelRegistry().models() if e.source == "downloaded"]


def _leftovers() -> list[str]:
    return sorted(p.name for p in models_dir().glob("*.gguf")) + \
        sorted(p.name for p in partial_dir().iterdir())


def test_search_and_list_files(hub: FakeHub, make_gguf: Callable[..., Path]) -> None:
    hub.add(REPO, FILE, make_gguf(FILE))
    hub.add(REPO, "tiny-Q4_K_M.gguf", make_gguf("tiny-Q4_K_M.gguf"))
    hub.add("other/Unrelated-GGUF", "x.gguf", make_gguf("x.gguf"))
    found = search_models("tiny")
    assert [m.repo_id for m in found] == [REPO]
    repo = repo_files(REPO)
    assert {f.filename for f in repo.files} == {FILE, "tiny-Q4_K_M.gguf"}  # README left out
    q8 = repo.file(FILE)
    assert q8.quantization == "Q8_0" and q8.size == make_gguf(FILE).stat().st_size
    assert q8.sha256 == hashlib.sha256(make_gguf(FILE).read_bytes()).hexdigest()
    assert repo.license == "apache-2.0" and len(repo.revision) == 40
    with pytest.raises(HubError, match="no GGUF file named"):
        repo.file("nope.gguf")
    with pytest.raises(HubError, match="no such repository"):
        repo_files("tester/does-not-exist")


def test_an_unreachable_hub_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(HubError, match="could not reach the hub"):
        search_models("anything")


def test_recommendation_takes_the_best_quality_that_fits() -> None:
    gb = 1_000_000_000
    files = [HubFile(f"m-{q}.gguf", size, None, q) for q, size in
             (("Q2_K", 1 * gb), ("Q4_K_M", 2 * gb), ("Q6_K", 3 * gb), ("Q8_0", 4 * gb),
              ("F16", 7 * gb))]
    files.append(HubFile("m-Q8_0-00001-of-00002.gguf", gb, None, "Q8_0", parts=2))
    files.append(HubFile("mmproj-m-Q8_0.gguf", gb // 2, None, "Q8_0"))

    def machine(available_gb: float) -> HardwareInfo:
        return HardwareInfo(int(available_gb * 2 * gb), int(available_gb * gb), 4, "CPU", False)

    assert recommend_file(files, machine(16)).quantization == "Q8_0"  # type: ignore[union-attr]
    assert recommend_file(files, machine(5)).quantization == "Q6_K"  # type: ignore[union-attr]
    assert recommend_file(files, machine(3.5)).quantization == "Q4_K_M"  # type: ignore[union-attr]
    assert recommend_file(files, machine(0.5)) is None


def test_download_verifies_registers_and_reports_progress(
        hub: FakeHub, make_gguf: Callable[..., Path]) -> None:
    source = _padded_gguf(make_gguf)
    hub.add(REPO, FILE, source)
    events = list(download_events(REPO, FILE))
    stages = [e.stage for e in events]
    assert stages[0] == "started" and stages[-1] == "done" and "downloading" in stages
    assert all(e.total == source.stat().st_size for e in events)
    model = events[-1].model
    assert model is not None and model.source == "downloaded" and model.repo_id == REPO
    assert model.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert Path(model.path).read_bytes() == source.read_bytes()
    assert _registered() == ["tiny-Q8_0"]
    assert _leftovers() == [FILE]  # the model file, no partial, no note
    again = list(download_events(REPO, FILE))  # already there: no second transfer
    assert [e.stage for e in again] == ["done"] and hub.downloads[f"{REPO}/{FILE}"] == 1


def test_a_broken_connection_resumes_where_it_stopped(
        hub: FakeHub, make_gguf: Callable[..., Path]) -> None:
    source = _padded_gguf(make_gguf)
    cut = 1_000_000
    hub.add(REPO, FILE, source, drop_after=cut)
    with pytest.raises(DownloadError, match="broke off.*run the same download again"):
        list(download_events(REPO, FILE, retries=0))
    assert _registered() == []  # nothing half-registered
    [partial] = partial_downloads()
    assert partial.bytes_done == cut and partial.total == source.stat().st_size
    model = pull(REPO, FILE, retries=0)
    assert model is not None and Path(model.path).read_bytes() == source.read_bytes()
    ranges = [r for method, path, r in hub.requests if "/resolve/" in path]
    assert ranges == [None, f"bytes={cut}-"]  # the second request asked only for the rest
    assert partial_downloads() == []


def test_broken_connections_are_retried_within_one_download(
        hub: FakeHub, make_gguf: Callable[..., Path]) -> None:
    source = _padded_gguf(make_gguf)
    hub.add(REPO, FILE, source, drop_after=500_000)
    events = list(download_events(REPO, FILE, retries=2, retry_wait_s=0.01))
    assert "retrying" in [e.stage for e in events] and events[-1].stage == "done"
    assert Path(events[-1].model.path).read_bytes() == source.read_bytes()  # type: ignore[union-attr]


def test_a_wrong_checksum_rejects_the_file(hub: FakeHub,
                                           make_gguf: Callable[..., Path]) -> None:
    hub.add(REPO, FILE, _padded_gguf(make_gguf), advertised_sha256="0" * 64)
    with pytest.raises(DownloadError, match="failed its checksum.*nothing was added"):
        list(download_events(REPO, FILE))
    assert _registered() == [] and _leftovers() == []


def test_a_file_that_is_not_a_model_is_rejected(hub: FakeHub, tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\x00" * 5000)  # right checksum, wrong contents
    hub.add(REPO, "junk.gguf", junk)
    with pytest.raises(DownloadError, match="not a model Glassbox can use"):
        list(download_events(REPO, "junk.gguf"))
    assert _registered() == [] and _leftovers() == []


def test_pause_keeps_the_partial_and_resume_finishes(
        hub: FakeHub, make_gguf: Callable[..., Path]) -> None:
    source = _padded_gguf(make_gguf)
    hub.add(REPO, FILE, source)
    pause = threading.Event()
    seen: list[DownloadProgress] = []
    for event in download_events(REPO, FILE, cancel=pause):
        seen.append(event)
        if event.stage == "started":
            pause.set()  # as a Pause button would, from another thread
    assert seen[-1].stage == "paused" and 0 < seen[-1].bytes_done < source.stat().st_size
    assert _registered() == []
    assert partial_downloads()[0].bytes_done == seen[-1].bytes_done
    model = pull(REPO, FILE)
    assert model is not None and Path(model.path).read_bytes() == source.read_bytes()


def test_discard_throws_a_paused_download_away(hub: FakeHub,
                                               make_gguf: Callable[..., Path]) -> None:
    hub.add(REPO, FILE, _padded_gguf(make_gguf), drop_after=100_000)
    with pytest.raises(DownloadError):
        pull(REPO, FILE, retries=0)
    assert discard_partial(REPO, FILE)
    assert partial_downloads() == [] and _leftovers() == []
    assert not discard_partial(REPO, FILE)


def test_a_changed_file_on_the_hub_restarts_the_download(
        hub: FakeHub, make_gguf: Callable[..., Path]) -> None:
    first = _padded_gguf(make_gguf)
    hub.add(REPO, FILE, first, drop_after=200_000)
    with pytest.raises(DownloadError):
        pull(REPO, FILE, retries=0)
    second = make_gguf("v2.gguf", tensors=2)
    hub.add(REPO, FILE, second)  # a new upload under the same name
    model = pull(REPO, FILE)
    assert model is not None and Path(model.path).read_bytes() == second.read_bytes()
    ranges = [r for method, path, r in hub.requests if "/resolve/" in path]
    assert ranges == [None, None]  # the stale partial was not continued
