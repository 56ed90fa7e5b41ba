"""Finding other apps' models: the bundled GGUF laid out as each app lays out its files, found,
described from its header, registered in place, loaded, then deleted (shown missing)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import scan_layouts as lay

from core.cli import main
from core.errors import Cancelled, ModelLoadError
from core.models.bundled import default_chat_model
from core.models.metadata import read_facts
from core.models.registry import BUNDLED_CHAT_ID, ModelRegistry, models_dir
from core.models.scan import FoundModel, find, register, scan
from core.models.scan_apps import FOLDER, ScanRoot


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One copy of the bundled model (its own file, not the bundled one's inode, so the
    library's bundled entry is not taken for it) and its sha256, as Ollama names blobs."""
    path = tmp_path_factory.mktemp("model") / "smollm2.gguf"
    shutil.copyfile(default_chat_model(), path)
    return path, lay.sha256_of(path)


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The scan honours these, as the apps do; a developer's own settings must not leak in.
    for name in ("OLLAMA_MODELS", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["models", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def only(found: list[FoundModel]) -> FoundModel:
    assert len(found) == 1, [m.name for m in found]
    return found[0]


LAYOUTS: dict[str, Callable[[Path, Path, str], Path]] = {
    "ollama": lambda home, f, digest: lay.ollama(home, f, digest).parents[4]
    / "blobs" / f"sha256-{digest}",
    "lmstudio": lambda home, f, _d: lay.lmstudio(home, f),
    "lmstudio-old": lambda home, f, _d: lay.lmstudio(home, f, old=True),
    "gpt4all": lambda home, f, _d: lay.gpt4all(home, f),
    "jan": lambda home, f, _d: lay.jan(home, f),
    "jan-old": lambda home, f, _d: lay.jan(home, f, old=True),
}
EXPECTED = {  # name suggested, source, how the app calls it
    "ollama": ("ollama:smollm2:135m", "ollama", "smollm2:135m"),
    "lmstudio": ("lmstudio:SmolLM2-135M-Instruct-Q4_1", "lmstudio",
                 "lmstudio-community/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct-Q4_1.gguf"),
    "lmstudio-old": ("lmstudio:SmolLM2-135M-Instruct-Q4_1", "lmstudio",
                     "lmstudio-community/SmolLM2-135M-Instruct-GGUF/"
                     "SmolLM2-135M-Instruct-Q4_1.gguf"),
    "gpt4all": ("gpt4all:smollm2-135m-instruct.Q4_1", "gpt4all",
                "smollm2-135m-instruct.Q4_1.gguf"),
    "jan": ("jan:smollm2-135m-instruct", "jan", "smollm2-135m-instruct/model.gguf"),
    "jan-old": ("jan:smollm2-135m-instruct", "jan",
                "smollm2-135m-instruct/smollm2-135m-instruct.gguf"),
}


@pytest.mark.parametrize("app", list(LAYOUTS))
def test_each_apps_layout_is_found_with_the_facts_from_its_header(
        app: str, tmp_path: Path, gguf: tuple[Path, str]) -> None:
    home = tmp_path / "home"
    placed = LAYOUTS[app](home, *gguf)
    result = scan(home=home)
    model = only(result.models)
    assert (model.name, model.source, model.label) == EXPECTED[app]
    assert Path(model.path) == placed and not model.registered
    assert model.facts == read_facts(default_chat_model())  # the header, read here
    assert model.facts.architecture == "llama" and model.facts.quantization == "Q4_1"
    assert result.skipped == []
    assert any(s.exists and Path(s.path) in placed.parents for s in result.searched)


def test_a_jan_model_imported_from_elsewhere_is_found_through_its_model_yml(
        tmp_path: Path, gguf: tuple[Path, str]) -> None:
    outside = lay.link(gguf[0], tmp_path / "elsewhere" / "my-model.gguf")
    lay.jan_imported(tmp_path / "home", outside)
    model = only(scan(home=tmp_path / "home").models)
    assert (model.name, model.path) == ("jan:imported-smollm2", str(outside))


def test_one_file_in_several_apps_is_listed_once_with_its_other_names(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, gguf: tuple[Path, str]) -> None:
    home = tmp_path / "home"
    lay.ollama(home, *gguf, tag="latest")
    lay.ollama(home, *gguf, tag="135m")  # two tags, one blob: `ollama pull` shares it
    lay.lmstudio(home, gguf[0])
    lay.gpt4all(home, gguf[0])
    model = only(scan(home=home).models)
    assert model.name == "ollama:smollm2:135m"  # the tag that says the size, not "latest"
    assert set(model.aliases) == {"ollama:smollm2:latest", "lmstudio:SmolLM2-135M-Instruct-Q4_1",
                                  "gpt4all:smollm2-135m-instruct.Q4_1"}
    code, out, err = cli(capsys, "scan", "--home", str(home))
    assert code == 0 and "Found 1 model (1 not in the library yet)" in out
    assert "ollama:smollm2:135m is also ollama:smollm2:latest" in out


def test_register_in_place_load_it_then_a_deleted_file_shows_missing(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, gguf: tuple[Path, str]) -> None:
    home = tmp_path / "home"
    lay.ollama(home, *gguf)
    blob = home / ".ollama" / "models" / "blobs" / f"sha256-{gguf[1]}"
    code, out, err = cli(capsys, "scan", "--home", str(home))
    assert code == 0, err
    assert "ollama:smollm2:135m" in out and "Ollama" in out and "Q4_1" in out
    assert "--register NAME" in out
    code, out, err = cli(capsys, "scan", "--home", str(home), "--register",
                         "ollama:smollm2:135m")
    assert code == 0, err
    assert f"Added ollama:smollm2:135m (used in place: {blob})" in out
    entry = ModelRegistry().get("ollama:smollm2:135m")
    assert not entry.managed and entry.source == "imported"
    assert ModelRegistry().resolve("ollama:smollm2:135m") == blob  # no copy was made
    assert not list(models_dir().glob("*.gguf"))
    code, out, _ = cli(capsys, "scan", "--home", str(home), "--json")
    assert json.loads(out)["models"][0]["registered_as"] == "ollama:smollm2:135m"
    # Registering again is a no-op, not a second entry.
    code, out, _ = cli(capsys, "scan", "--home", str(home), "--register-all", "--json")
    assert json.loads(out)["registered"] == []
    # The real engine loads it by its new name and, being the same file as the bundled model,
    # answers as the bundled model does with the same seed.
    answers = []
    for model in ("ollama:smollm2:135m", BUNDLED_CHAT_ID):
        code = main(["ask", "Name a colour.", "--model", model, "--max-tokens", "6",
                     "--seed", "3", "--json"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        answers.append(json.loads(captured.out)["text"])
    assert answers[0] == answers[1] and answers[0].strip()
    # Ollama removes the model: the library says it is missing, nothing crashes.
    blob.unlink()
    code, out, err = cli(capsys, "list", "--json")
    assert code == 0, err
    listed = {m["name"]: m for m in json.loads(out)}
    assert listed["ollama:smollm2:135m"]["missing"] is True
    code, out, err = cli(capsys, "list")
    assert code == 0 and "! file missing" in out
    with pytest.raises(ModelLoadError, match="Model file not found"):
        ModelRegistry().resolve("ollama:smollm2:135m")
    code, out, err = cli(capsys, "scan", "--home", str(home))
    assert code == 0 and "not in" in out and "ollama pull smollm2:135m" in out


def test_bad_files_and_folders_are_reported_and_nothing_bad_is_registered(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, gguf: tuple[Path, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    # Ollama: one manifest whose weights blob never arrived, one that is not JSON.
    lay.ollama(home, gguf[0], "0" * 64, model="gone", with_blob=False)
    broken = lay.ollama(home, *gguf, model="broken")
    broken.write_text("<html>502 Bad Gateway</html>", encoding="utf-8")
    # LM Studio: a download cut short; GPT4All: an HTML page saved as .gguf.
    cut = home / ".lmstudio" / "models" / "pub" / "repo" / "cut-Q4_1.gguf"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(gguf[0].read_bytes()[:2_000_000])
    page = home / ".local" / "share" / "nomic.ai" / "GPT4All" / "page.gguf"
    page.parent.mkdir(parents=True)
    page.write_text("<html>Not found</html>", encoding="utf-8")
    # A folder the user adds: one good model, a symlink loop, a link to nowhere, an unreadable
    # folder and a model too deep to be searched.
    mine = tmp_path / "mine"
    lay.link(gguf[0], mine / "good.gguf")
    (mine / "sub").mkdir()
    (mine / "sub" / "loop").symlink_to(mine, target_is_directory=True)
    (mine / "dangling.gguf").symlink_to(mine / "nowhere.gguf")
    locked = mine / "locked"
    locked.mkdir()
    deep = mine.joinpath(*[f"d{i}" for i in range(14)])
    lay.link(gguf[0], deep / "deep.gguf")
    _make_unreadable(locked, monkeypatch)
    code, out, err = cli(capsys, "scan", "--home", str(home), "--folder", str(mine),
                         "--register-all", "--json")
    locked.chmod(0o755)  # for the temporary folder's cleanup
    assert code == 0, err
    data = json.loads(out)
    assert [m["name"] for m in data["models"]] == ["good"]
    assert [e["name"] for e in data["registered"]] == ["good"]
    messages = "\n".join(s["message"] for s in data["skipped"])
    assert "manifest for gone:135m names the blob sha256-" + "0" * 64 in messages
    assert "manifest for broken:135m" in messages and "not valid JSON" in messages
    assert "cut-Q4_1.gguf is truncated" in messages
    assert "page.gguf is not a GGUF model file" in messages
    assert "leads back to a folder already searched" in messages
    assert "dangling.gguf is a link to a file that is not there" in messages
    assert f"Could not read the folder {locked}" in messages
    assert "more than 12 levels below" in messages
    names = [e.name for e in ModelRegistry().models() if e.source != "bundled"]
    assert names == ["good"]
    # The same, as a person reads it.
    code, out, _ = cli(capsys, "scan", "--home", str(home), "--folder", str(mine))
    assert code == 0 and "Skipped 8:" in out and "good" in out
    # A folder that is not there, and a name the scan did not find.
    code, out, err = cli(capsys, "scan", "--home", str(home), "--folder",
                         str(tmp_path / "nope"), "--register", "nothing")
    assert code == 1 and "No model called 'nothing' was found" in err


def _make_unreadable(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000; root reads through that, so there the refusal root never sees is made
    where the scan asks the system for the listing."""
    folder.chmod(0)
    if os.geteuid() != 0:
        return
    real = os.scandir

    def scandir(path: os.PathLike[str] | str) -> os.ScandirIterator[os.DirEntry[str]]:
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_a_scan_reports_progress_and_can_be_cancelled(tmp_path: Path,
                                                      gguf: tuple[Path, str]) -> None:
    for i in range(3):
        lay.link(gguf[0], tmp_path / "mine" / f"m{i}" / f"model-{i}.gguf")
    seen: list[tuple[int, str]] = []
    result = scan([ScanRoot(FOLDER, tmp_path / "mine")], progress=lambda n, p: seen.append((n, p)))
    assert [m.name for m in result.models] == ["model-0"]  # hard links: one file, three names
    assert max(n for n, _ in seen) == 1 and any(p.endswith("m2") for _, p in seen)
    stop = threading.Event()
    with pytest.raises(Cancelled, match="cancelled"):
        scan([ScanRoot(FOLDER, tmp_path / "mine")], cancel=stop,
             progress=lambda n, p: stop.set())


def test_registering_a_found_model_keeps_names_unique(tmp_path: Path,
                                                      gguf: tuple[Path, str]) -> None:
    first = lay.link(gguf[0], tmp_path / "a" / "model.gguf")
    shutil.copyfile(gguf[0], tmp_path / "b.gguf")  # another file, same suggested name
    second = lay.link(tmp_path / "b.gguf", tmp_path / "b" / "model.gguf")
    found = scan([ScanRoot(FOLDER, tmp_path / "a"), ScanRoot(FOLDER, tmp_path / "b")]).models
    assert [m.name for m in found] == ["model", "model"]
    entries = [register(m) for m in found]
    assert [e.name for e in entries] == ["model", "model-2"]
    assert [e.path for e in entries] == [str(first), str(second)]
    result = scan([ScanRoot(FOLDER, tmp_path / "a")])
    assert find(result, "model") is not None and result.models[0].registered_as == "model"
