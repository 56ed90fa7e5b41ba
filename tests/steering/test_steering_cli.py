"""`glassbox inspect steer` and `--control-vector` on ask, end to end through core.cli.main (a
real engine child, the bundled model)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from core.cli import main
from core.engine import control_vector as cvec
from core.gguf.reader import read_header


def _pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(p) for p in [
        {"positive": "I love this bright morning.", "negative": "I hate this grey morning."},
        {"positive": "What a kind, lovely friend.", "negative": "What a cruel, awful friend."},
    ]) + "\n", encoding="utf-8")
    return path


def test_inspect_steer_json_and_save(model_path: Path, tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    saved = tmp_path / "glad.gguf"
    code = main(["inspect", "steer", "Tell me about your day.", "--pairs",
                 str(_pairs_file(tmp_path)), "--layers", "6-12", "--strength", "1.5",
                 "--reply-tokens", "6", "--save", str(saved), "--json", "--model",
                 str(model_path), "--ctx", "512"], out, err)
    assert code == 0, err.getvalue()
    data = json.loads(out.getvalue())
    assert data["layers"] == [6, 12]
    assert [r["strength"] for r in data["replies"]] == [0.0, 1.5]
    arch = str(read_header(model_path).metadata["general.architecture"])
    n_layer = int(read_header(model_path).metadata[f"{arch}.block_count"])
    assert len(data["separation"]) == n_layer
    loaded = cvec.load(saved)
    assert loaded.suggested_layers == (6, 12) and loaded.model_hint == arch


def test_inspect_steer_bad_pairs_file(model_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"positive": "yes"}\n', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    code = main(["inspect", "steer", "Hi", "--pairs", str(bad), "--model", str(model_path),
                 "--ctx", "512"], out, err)
    assert code != 0
    assert "line 1" in err.getvalue()


def test_ask_with_a_control_vector_for_another_model(model_path: Path, tmp_path: Path) -> None:
    import gguf
    import numpy as np

    path = tmp_path / "other.gguf"
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", "qwen2")
    writer.add_int32("controlvector.layer_count", 1)
    writer.add_tensor("direction.1", np.ones(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    out, err = io.StringIO(), io.StringIO()
    code = main(["ask", "Hi", "--control-vector", f"{path}:1.5", "--model", str(model_path),
                 "--ctx", "512", "--max-tokens", "4"], out, err)
    assert code != 0
    assert "made for a 'qwen2' model" in err.getvalue()
