"""`glassbox finetune` end to end on the bundled model: train with --json, then
`finetune eval` shows the adapter lowered held-out perplexity; refusals are messages."""

from __future__ import annotations

import io
import json
from pathlib import Path

from conftest import pirate_examples

from core.cli import main
from core.finetune.data import write_jsonl


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_train_then_evaluate_with_json(tmp_path: Path, glassbox_home: Path) -> None:
    data = tmp_path / "pirates.jsonl"
    write_jsonl(pirate_examples(10), data)
    with data.open("a", encoding="utf-8") as f:
        f.write("{broken\n")
    code, out, err = _cli("finetune", str(data), "--out", "pirate", "--max-length", "48",
                          "--lr", "3e-3", "--epochs", "2", "--batch-size", "2", "--json")
    assert code == 0, err
    result = json.loads(out)  # stdout holds the one JSON object and nothing else
    assert result["status"] == "completed" and result["step"] == result["total_steps"] == 10
    assert result["split"]["held_out"] == 1 and result["split"]["train"] == 9
    assert result["encoded"]["train"]["examples"] == 9
    assert "adapter_gguf" in result and result["tokens_per_s"] > 0
    assert Path(result["adapter"]) == glassbox_home / "adapters" / "pirate" / "adapter"
    assert "skipped line 11" in err and "step 10/10" in err

    code, out, err = _cli("finetune", "eval", "pirate", "--json")
    assert code == 0, err
    scores = json.loads(out)
    assert scores["held_out_examples"] == 1
    assert scores["perplexity_with"] < scores["perplexity_without"]
    manifest = json.loads((glassbox_home / "adapters" / "pirate" / "manifest.json").read_text())
    assert manifest["evaluation"]["perplexity_with"] == scores["perplexity_with"]

    code, out, _ = _cli("finetune", "list", "--json")
    assert code == 0 and [r["name"] for r in json.loads(out)] == ["pirate"]
    code, _, err = _cli("finetune", str(data), "--out", "pirate")
    assert code == 1 and "exists already" in err


def test_refusals_are_messages(tmp_path: Path) -> None:
    one = tmp_path / "one.jsonl"
    write_jsonl(pirate_examples(1), one)
    code, out, err = _cli("finetune", str(one), "--out", "x")
    assert code == 1 and out == "" and "only 1 example" in err
    assert err.startswith("glassbox: error:")
    code, _, err = _cli("finetune", str(one), "--out", "../escape")
    assert code == 1 and "cannot name an adapter" in err
    code, _, err = _cli("finetune", "eval", "nothing-here")
    assert code == 1 and "No fine-tuning run" in err
