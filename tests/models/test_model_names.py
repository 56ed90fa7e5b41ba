"""One name per model, the demo model labelled where it is picked, the bundled Gemma listed,
and the starter model suggested for a computer's memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.cli import main
from core.models.bundled import (
    CHAT_MODEL_ID,
    COMPARISON_BASE_ID,
    DEMO_NOTE,
    GEMMA_FACTS,
    comparison_base_target,
    is_demo_model,
)
from core.models.metadata import read_facts
from core.models.registry import ModelRegistry, models_dir
from core.models.starter import STARTER_MODELS, suggest_starter
from desktop.model_controller import picker_label
from ui.model_library_view import NAME, SOURCE, ModelLibraryView

GB = 1024**3
needs_gemma = pytest.mark.skipif(comparison_base_target(Path("/")) is None,
                                 reason="the Gemma package is not installed")


def test_the_bundled_model_has_one_name_and_says_it_is_a_demo() -> None:
    smol = ModelRegistry().get(CHAT_MODEL_ID)
    assert smol.note == DEMO_NOTE and is_demo_model(smol.path)
    assert not is_demo_model(Path(smol.path).with_name("other.gguf"))
    # The chat's picker shows the library's name (it said "SmolLM2-135M-Instruct.Q4_1
    # (bundled)", a second name), with the note.
    assert picker_label(smol).startswith(f"{CHAT_MODEL_ID} ({DEMO_NOTE})")
    assert Path(smol.path).stem not in picker_label(smol)


def test_the_models_list_and_the_models_tab_label_the_demo_model(
        capsys: pytest.CaptureFixture[str], qtbot: QtBot) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if CHAT_MODEL_ID in line)
    assert row.rstrip().endswith(DEMO_NOTE)
    assert f"{CHAT_MODEL_ID} is a {DEMO_NOTE}" in out and "glassbox models pull " in out
    assert main(["models", "list", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed[CHAT_MODEL_ID]["note"] == DEMO_NOTE

    view = ModelLibraryView()
    qtbot.addWidget(view)
    view.set_models(ModelRegistry().models())
    assert view.item(0, NAME).text() == f"★ {CHAT_MODEL_ID}"
    assert view.item(0, SOURCE).text() == f"bundled · {DEMO_NOTE}"
    assert DEMO_NOTE in view.item(0, NAME).toolTip()
    assert view.names()[0] == CHAT_MODEL_ID


@needs_gemma
def test_the_bundled_gemma_is_in_the_library_before_its_first_use() -> None:
    registry = ModelRegistry()
    gemma = registry.get(COMPARISON_BASE_ID)  # UnknownModel before: listed only once assembled
    target = comparison_base_target(models_dir())
    assert gemma.path == str(target) and not target.exists()  # type: ignore[union-attr]
    assert gemma.source == "bundled" and not gemma.missing and gemma.note
    assert gemma.facts == GEMMA_FACTS
    # Using it assembles it, and the facts listed are the file's own.
    path = registry.resolve(COMPARISON_BASE_ID)
    assert path == target and path.is_file()
    assert read_facts(path) == GEMMA_FACTS
    assert registry.get(COMPARISON_BASE_ID).facts == GEMMA_FACTS


def test_the_suggested_starter_is_the_best_that_fits_the_memory() -> None:
    def title(ram: float | None, available: float | None = None) -> str | None:
        found = suggest_starter(int(ram * GB) if ram else None,
                                int(available * GB) if available else None)
        return found.title if found else None

    assert title(1) is None
    assert title(2) == "Qwen2.5 0.5B Instruct"
    assert title(4) == "Qwen2.5 1.5B Instruct"
    assert title(7.6) == "Llama 3.2 3B Instruct"  # an "8 GB" laptop as Linux reports it
    assert title(16) == title(64) == "Phi-3.5 mini Instruct"
    assert title(None, 3) == "Qwen2.5 1.5B Instruct"  # total unknown: 80% of what is free
    assert title(None) is not None
    assert all(m.ram_gb > 0 for m in STARTER_MODELS)
