"""`glassbox models ...` as a user runs it, and one model from the hub answering a question."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_hub import FakeHub

from core.cli import main
from core.models.bundled import COMPARISON_BASE_ID
from core.models.registry import BUNDLED_CHAT_ID

ROOT = Path(__file__).resolve().parents[2]
REPO = "tester/Tiny-GGUF"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["models", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_list_info_default_remove(capsys: pytest.CaptureFixture[str],
                                         make_gguf: Callable[..., Path]) -> None:
    path = make_gguf("tiny-Q8_0.gguf")
    code, out, err = run(capsys, "import", str(path), "--name", "tiny")
    assert code == 0, err
    assert "Added tiny (llama, 384 parameters, F32, copied into the library)" in out
    code, out, _ = run(capsys, "list", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert set(listed) - {COMPARISON_BASE_ID} == {BUNDLED_CHAT_ID, "tiny"}
    assert listed["tiny"]["facts"]["has_chat_template"] is True
    code, out, _ = run(capsys, "list")
    assert "tiny" in out and "CHAT" in out
    code, out, _ = run(capsys, "info", "tiny", "--ctx", "1024", "--json")
    info = json.loads(out)
    # 2 layers x 1024 tokens x 2 KV heads x (16 + 16) x 2 bytes
    assert info["fit"]["estimate"]["kv_cache"] == 2 * 1024 * 2 * 32 * 2
    assert info["fit"]["fits"] is True and info["hardware"]["cpu_threads"] >= 1
    code, out, _ = run(capsys, "info", BUNDLED_CHAT_ID)
    assert "apache-2.0" in out and "fits here" in out and "KV cache" in out
    code, out, _ = run(capsys, "default", "tiny")
    assert code == 0 and "default" in out
    code, out, _ = run(capsys, "remove", "tiny")
    assert code == 0 and "add --delete-file" in out
    assert Path(info["model"]["path"]).exists()
    code, out, _ = run(capsys, "list", "--json")
    assert [m["name"] for m in json.loads(out) if m["source"] != "bundled"] == []
    assert json.loads(out)[0]["is_default"] is True  # the default falls back to the bundled


def test_bad_input_gives_one_clear_line(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"<html>Not found</html>")
    code, out, err = run(capsys, "import", str(junk))
    assert code == 1 and err == "glassbox: error: junk.gguf is not a GGUF model file.\n"
    code, out, err = run(capsys, "remove", "nothing-here")
    assert code == 1 and "No model named 'nothing-here'" in err
    code, out, err = run(capsys, "remove", BUNDLED_CHAT_ID, "--delete-file")
    assert code == 1 and "ships with Glassbox" in err


def test_starter_list_search_files_and_a_resumed_pull(
        capsys: pytest.CaptureFixture[str], hub: FakeHub,
        make_gguf: Callable[..., Path]) -> None:
    code, out, _ = run(capsys, "search")
    assert code == 0 and "can go stale" in out and "Qwen2.5-0.5B-Instruct" in out
    source = make_gguf("tiny-Q8_0.gguf")
    with source.open("ab") as f:
        f.write(b"\x00" * 600_000)
    hub.add(REPO, "tiny-Q8_0.gguf", source, drop_after=300_000)
    code, out, _ = run(capsys, "search", "tiny", "--json")
    assert [m["repo_id"] for m in json.loads(out)] == [REPO]
    code, out, _ = run(capsys, "files", REPO)
    assert code == 0 and re.search(r"^\*\s+tiny-Q8_0.gguf\s+Q8_0", out, re.M)
    assert "recommended" in out
    code, out, err = run(capsys, "pull", REPO, "tiny-Q8_0.gguf", "--retries", "0")
    assert code == 1 and "broke off" in err and "run the same download again" in err
    code, out, _ = run(capsys, "list", "--json")
    assert {m["source"] for m in json.loads(out)} == {"bundled"}  # nothing from the broken try
    code, out, err = run(capsys, "pull", REPO, "--default")  # no FILE: the recommended one
    assert code == 0, err
    assert "resuming" in err and "sha256 verified" in out
    code, out, _ = run(capsys, "list", "--json")
    pulled = [m for m in json.loads(out) if m["source"] == "downloaded"]
    assert len(pulled) == 1 and pulled[0]["is_default"] and pulled[0]["repo_id"] == REPO


@pytest.mark.e2e
def test_a_model_from_the_hub_answers(hub: FakeHub, model_path: Path, tmp_path: Path,
                                      glassbox_home: Path) -> None:
    """Pull the bundled SmolLM2 from the local hub, then chat with it by its library name."""
    served = tmp_path / "SmolLM2-135M-Instruct-Q4_1.gguf"
    shutil.copyfile(model_path, served)
    hub.add("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", served.name, served, drop_after=40 << 20)
    env = {**os.environ, "HF_ENDPOINT": hub.url, "GLASSBOX_HOME": str(glassbox_home)}
    env.pop("HF_HUB_OFFLINE", None)

    def glassbox(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], env=env,
                              capture_output=True, text=True, timeout=120, cwd=ROOT)

    pulled = glassbox("models", "pull", "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", served.name,
                      "--name", "smol-from-hub", "--json")
    assert pulled.returncode == 0, pulled.stderr
    assert "retrying" in pulled.stderr  # the connection broke once and the pull went on
    assert json.loads(pulled.stdout)["sha256"]
    answer = glassbox("ask", "Say hello.", "--model", "smol-from-hub", "--json",
                      "--max-tokens", "12", "--seed", "1")
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["text"].strip()


def test_models_remove_as_json(capsys: pytest.CaptureFixture[str],
                               make_gguf: Callable[..., Path]) -> None:
    path = make_gguf("tiny-Q8_0.gguf")
    assert run(capsys, "import", str(path), "--name", "tiny", "--in-place")[0] == 0
    code, out, _ = run(capsys, "remove", "tiny", "--json")
    removed = json.loads(out)
    assert code == 0 and removed["name"] == "tiny" and removed["file_deleted"] is False
    assert removed["path"] == str(path) and path.exists()
