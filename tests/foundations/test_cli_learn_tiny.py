"""`glassbox learn tiny-gpt`: trains on a text, prints the losses and samples as JSON, and
leaves a GGUF in the model library that llama.cpp loads."""

from __future__ import annotations

import io
import json
from pathlib import Path

from core.cli import main
from core.llama_log import open_llama
from core.models.registry import ModelRegistry

SMALL = ["--layers", "1", "--heads", "2", "--width", "64", "--context", "32",
         "--batch-size", "8", "--eval-every", "10", "--sample-every", "20"]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_tiny_gpt_trains_exports_and_registers(glassbox_home: Path) -> None:
    code, out, err = _run("learn", "tiny-gpt", "sample", "--steps", "20", "--out", "mine",
                          "--json", *SMALL)
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "done" and len(result["train_loss"]) == 20
    assert [h["step"] for h in result["held_out_loss"]] == [0, 10, 20]
    assert result["held_out_loss"][-1]["loss"] < result["held_out_loss"][0]["loss"]
    assert [s["step"] for s in result["samples"]] == [0, 20]
    assert result["samples"][0]["text"] != result["samples"][-1]["text"]
    assert result["unigram_entropy"] > 0 and result["parameters"] > 0
    path = Path(result["gguf"])
    assert path.is_file() and glassbox_home in path.parents
    entry = ModelRegistry().get(result["library_name"])
    assert Path(entry.path) == path
    assert ModelRegistry().resolve("mine") == path  # `glassbox ask --model mine` finds it
    llm = open_llama(str(path), n_ctx=64, n_threads=1)
    try:
        assert llm.metadata["general.architecture"] == "llama"
        assert int(llm.metadata["llama.block_count"]) == 1
    finally:
        llm.close()


def test_an_empty_text_fails_with_the_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    code, out, err = _run("learn", "tiny-gpt", str(empty), "--out", "x", *SMALL)
    assert code == 1 and out == ""
    assert "glassbox: error: The text is empty" in err


def test_a_missing_file_and_a_bad_name_fail_plainly(tmp_path: Path) -> None:
    code, _, err = _run("learn", "tiny-gpt", str(tmp_path / "nope.txt"), "--out", "x")
    assert code == 1 and "is not a text file, nor sample[:NAME]" in err
    code, _, err = _run("learn", "tiny-gpt", "sample", "--out", "../escape")
    assert code == 1 and "cannot name a model" in err


def test_a_diverging_run_reports_the_nan_and_exports_nothing(glassbox_home: Path) -> None:
    code, out, err = _run("learn", "tiny-gpt", "sample", "--steps", "40", "--out", "boom",
                          "--lr", "80", "--json", *SMALL)
    assert code == 1
    result = json.loads(out)
    assert result["status"] == "diverged" and "gguf" not in result
    assert "learning rate 80 is too high" in err
