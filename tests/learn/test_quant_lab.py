"""The quantization lab on the bundled SmolLM2-135M Q4_1: llama.cpp's own quantizer, then the
two models read the same text."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from core.engine.quant_compare import (
    DEFAULT_TEXT,
    QuantComparison,
    compare_models,
    summary_rows,
)
from core.errors import Cancelled, ModelLoadError, PromptError
from core.models.bundled import default_chat_model
from core.models.lab_child import LabJobError, Progress, run_in_child
from core.models.quantize import (
    QuantizedCopy,
    QuantizeError,
    clear_lab,
    copy_path,
    lab_folder,
    quantize_model,
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quant-home")


@pytest.fixture(scope="module")
def q2k(home: Path) -> QuantizedCopy:
    """One Q2_K copy of the bundled model for the module (made in its own GLASSBOX_HOME)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GLASSBOX_HOME", str(home))
        events: list[tuple[int, int, str]] = []
        copy = quantize_model(default_chat_model(), "Q2_K",
                              progress=lambda d, t, w: events.append((d, t, w)))
    assert events[0][0] == 0 and events[-1][0] == events[-1][1] and events[-1][2] == "done"
    return copy


@pytest.fixture(scope="module")
def compared(q2k: QuantizedCopy) -> QuantComparison:
    return compare_models(default_chat_model(), q2k.path, DEFAULT_TEXT)


def test_the_copy_is_smaller_and_holds_lower_bit_tensors(q2k: QuantizedCopy, home: Path) -> None:
    path = Path(q2k.path)
    assert path.is_file() and path.parent == home / "quant-lab"
    assert q2k.size == path.stat().st_size < q2k.source_size == default_chat_model().stat().st_size
    # Rows of 576 values are too short for k-quants (256-value blocks): most tensors fall back,
    # and the 1536-wide ffn_down tensors take a real k-quant type.
    assert "Q3_K" in q2k.tensor_types or "Q2_K" in q2k.tensor_types
    assert "Q4_1" not in q2k.tensor_types
    assert not list(path.parent.glob("*.part"))


def test_quantized_model_is_more_perplexed_and_diverges(compared: QuantComparison) -> None:
    n = len(compared.ids) - 1
    assert len(compared.pieces) == n + 1 > 40
    assert compared.perplexity_quantized > compared.perplexity_original > 1
    assert compared.kl.shape == (n,) and np.all(compared.kl >= 0) and compared.mean_kl > 0.01
    assert compared.flips.shape == (n,) and 0 < compared.n_flips < n
    flipped = np.flatnonzero(compared.flips)
    assert all(compared.top_original[i] != compared.top_quantized[i] for i in flipped)
    kept = np.flatnonzero(~compared.flips)
    assert all(compared.top_original[i] == compared.top_quantized[i] for i in kept)
    # On average a flip sits where the distributions differ most.
    assert compared.kl[compared.flips].mean() > compared.kl[~compared.flips].mean()
    assert compared.original_size > compared.quantized_size


def test_drift_is_finite_per_layer_and_grows_with_depth(compared: QuantComparison) -> None:
    cosine, relative = compared.drift_cosine, compared.drift_relative_l2
    assert cosine.shape == relative.shape == (30,)  # SmolLM2-135M has 30 layers
    assert np.all(np.isfinite(cosine)) and np.all(np.isfinite(relative))
    assert np.all(cosine >= 0) and np.all(relative > 0)
    assert cosine[-5:].mean() > 2 * cosine[:5].mean()
    assert relative[-5:].mean() > relative[:5].mean()


def test_summary_rows_say_it_in_words(compared: QuantComparison) -> None:
    rows = {name: (a, b) for name, a, b in summary_rows(compared)}
    assert rows["Perplexity on the text"] == (f"{compared.perplexity_original:.2f}",
                                              f"{compared.perplexity_quantized:.2f}")
    assert rows["Top-1 flips"][1].startswith(f"{compared.n_flips} of {len(compared.flips)}")


def test_a_model_against_itself_changes_nothing() -> None:
    same = compare_models(default_chat_model(), default_chat_model(),
                          "The quick brown fox jumps over the lazy dog.")
    assert same.mean_kl == pytest.approx(0.0, abs=1e-6) and same.n_flips == 0
    assert same.perplexity_original == pytest.approx(same.perplexity_quantized)
    assert np.allclose(same.drift_cosine, 0.0, atol=1e-9)


def test_clearing_the_lab_deletes_the_copies(home: Path, q2k: QuantizedCopy,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLASSBOX_HOME", str(home))
    extra = quantize_model(default_chat_model(), "Q4_0")
    assert Path(extra.path) == copy_path(default_chat_model(), "Q4_0")
    assert clear_lab() == 2
    assert not Path(q2k.path).exists() and not Path(extra.path).exists()
    assert list(lab_folder().iterdir()) == []


def test_cancel_stops_quantizing_and_leaves_no_file() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled, match="Stopped quantizing"):
        quantize_model(default_chat_model(), "Q3_K_S", cancel=cancel)
    assert list(lab_folder().iterdir()) == []


def test_cancel_stops_a_comparison_under_way() -> None:
    cancel = threading.Event()
    seen: list[str] = []

    def on_progress(done: int, total: int, what: str) -> None:
        seen.append(what)
        cancel.set()  # the first event says the child is working: stop it there

    with pytest.raises(Cancelled):
        compare_models(default_chat_model(), default_chat_model(), DEFAULT_TEXT,
                       progress=on_progress, cancel=cancel)
    assert seen and "original" in seen[0]


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGML" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="not a GGUF model file"):
        quantize_model(junk, "Q2_K")
    # A real model cut short: the header promises more data than the file has.
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(default_chat_model().read_bytes()[: 5_000_000])
    with pytest.raises(ModelLoadError, match="truncated"):
        quantize_model(cut, "Q2_K")
    with pytest.raises(ModelLoadError, match="truncated"):
        compare_models(default_chat_model(), cut)
    with pytest.raises(QuantizeError, match="not a type the lab offers"):
        quantize_model(default_chat_model(), "Q1_Z")
    with pytest.raises(PromptError, match="needs a text"):
        compare_models(default_chat_model(), default_chat_model(), "  ")
    with pytest.raises(PromptError, match="up to 512"):
        compare_models(default_chat_model(), default_chat_model(), "word " * 900)


def _write_foreign_gguf(path: Path) -> Path:
    """A valid GGUF header and tensor table that is no model llama.cpp can load."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("blk.0.weight", np.ones((8, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_file_llama_cpp_refuses_is_a_clear_error(tmp_path: Path) -> None:
    foreign = _write_foreign_gguf(tmp_path / "foreign.gguf")
    with pytest.raises(QuantizeError, match="could not quantize foreign.gguf to Q2_K"):
        quantize_model(foreign, "Q2_K")
    with pytest.raises(LabJobError, match="could not load foreign.gguf"):
        compare_models(default_chat_model(), foreign)
    assert list(lab_folder().iterdir()) == []


def abort_after_progress(progress: Progress) -> None:
    """Run in the child by the next test: what llama.cpp's asserts do to a process."""
    progress(0, 1, "about to abort")
    os.abort()


def test_a_child_that_aborts_is_reported_not_fatal() -> None:
    seen: list[str] = []
    with pytest.raises(LabJobError, match="died while testing.*SIGABRT"):
        run_in_child(f"{Path(__file__).stem}:abort_after_progress", (), "testing",
                     progress=lambda d, t, w: seen.append(w))
    assert seen == ["about to abort"]
