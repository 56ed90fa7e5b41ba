"""A LoRA adapter in the chat: the window loads the base model with an adapter (what the
Fine-tune lab's "Use in chat" does), names it in the status bar, answers with it, and changes
its scale without reloading the model; a server's model refuses adapters plainly."""

from __future__ import annotations

import sys
from pathlib import Path

from guitools import OpenWindow, send_and_wait, stored_messages
from pytestqt.qtbot import QtBot

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lora_files import random_adapter  # noqa: E402

WAIT_MS = 120_000


def test_the_chat_runs_a_base_model_with_an_adapter(qtbot: QtBot, open_window: OpenWindow,
                                                     model_path: Path, tmp_path: Path) -> None:
    adapter = random_adapter(model_path, tmp_path / "lora", std=0.03)
    window = open_window()
    models = window.models
    assert models is not None and models.model is not None
    base = models.model.path
    models.load(base, loras=[(str(adapter), 1.0)])
    qtbot.waitUntil(lambda: models.model is not None and len(models.model.loras) == 1,
                    timeout=WAIT_MS)
    assert models.model.loras[0].path == str(adapter)
    assert "+ lora ×1" in window.status.model_label.text()
    load_s = models.model.load_s

    send_and_wait(qtbot, window, "Say something short.")
    reply = stored_messages(window.chats.current_chat_id)[-1]  # type: ignore[union-attr]
    assert reply.role == "assistant" and reply.status == "complete" and reply.content

    models.set_lora_scales({str(adapter): 0.5})
    qtbot.waitUntil(lambda: models.model is not None and models.model.loras
                    and models.model.loras[0].scale == 0.5, timeout=WAIT_MS)
    assert "×0.5" in window.status.model_label.text()
    assert models.model.load_s == load_s  # the same load: scales change in place

    models.load("remote:box/m", loras=[(str(adapter), 1.0)])
    qtbot.waitUntil(lambda: "adapters apply to a local model" in window.error_banner.message(),
                    timeout=WAIT_MS)
    assert models.loading is None
    assert models.model is not None and models.model.path == base  # kept, with its adapter
    assert models.model.loras and models.model.loras[0].scale == 0.5
