"""Export and import: Markdown to read, JSON that comes back exactly as it left."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.chat import apply_preset, new_chat_from_preset
from core.engine.types import SamplingSettings
from core.prompts.compare import Variant
from core.prompts.presets import Example, Preset, PresetError
from core.store import ChatStore
from core.store.comparisons import VariantResult
from core.store.export import (
    ExportFileError,
    chat_to_json,
    chat_to_markdown,
    comparison_to_json,
    comparison_to_markdown,
    import_chat,
    read_export,
    write_json,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "chats.sqlite3")
    yield s
    s.close()


def _branched_chat(store: ChatStore) -> int:
    chat = store.create_chat("Fruit talk", system_prompt="Be brief. 🍐")
    store.set_chat_collections(chat.id, ["guide"])
    q = store.add_message(chat.id, "user", "Name a fruit.\n\n```py\nx = {1: 2}\n```")
    a1 = store.add_message(chat.id, "assistant", "Apple [1].")
    store.set_message_grounding(a1.id, {"sources": [{"number": 1, "label": "guide, page 2"}]})
    store.add_message(chat.id, "user", "Why?")
    writer = store.start_reply(chat.id)
    writer.append("Because.")
    writer.finish("interrupted", {"completion_tokens": 2, "tokens_per_s": 40.0})
    store.add_message(chat.id, "assistant", "Pear.", parent_id=q.id)
    store.add_message(chat.id, "user", "Name a tree.", parent_id=None)
    store.switch_branch(q.id, 0)  # back to the first question, its newest reply (Pear)
    return chat.id


def test_chat_json_round_trip_is_lossless(store: ChatStore, tmp_path: Path) -> None:
    chat_id = _branched_chat(store)
    exported = chat_to_json(store, chat_id)
    path = tmp_path / "chat.json"
    write_json(path, exported)
    imported = import_chat(store, read_export(path, "glassbox-chat"))
    assert imported.id != chat_id
    again = chat_to_json(store, imported.id)
    assert again == exported
    assert [m.content for m in store.messages(imported.id)] == ["Name a fruit.\n\n```py\n"
                                                               "x = {1: 2}\n```", "Pear."]
    assert store.messages(imported.id)[-1].branch_position == (2, 2)
    assert len(store.all_messages(imported.id)) == 6
    grounded = [m for m in store.all_messages(imported.id) if m.grounding]
    assert grounded[0].grounding == {"sources": [{"number": 1, "label": "guide, page 2"}]}
    assert store.get_chat(imported.id).collections == ("guide",)


def test_chat_markdown_shows_the_branch_on_screen(store: ChatStore) -> None:
    chat_id = _branched_chat(store)
    text = chat_to_markdown(store.get_chat(chat_id), store.messages(chat_id))
    assert text.startswith("# Fruit talk\n")
    assert "> Be brief. 🍐" in text
    assert "### Assistant (alternative 2 of 2)\n\nPear." in text
    assert "Apple" not in text  # the other branch is not what is on screen
    assert "```py\nx = {1: 2}\n```" in text


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not a JSON file"),
    ('["a list"]', "no Glassbox format mark"),
    ('{"format": "glassbox-comparison", "version": 1}', "it is a Glassbox comparison"),
    ('{"format": "glassbox-chat", "version": 99}', "newer Glassbox"),
])
def test_foreign_or_malformed_files_are_refused(tmp_path: Path, content: str,
                                                message: str) -> None:
    path = tmp_path / "file.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ExportFileError, match=message):
        read_export(path, "glassbox-chat")


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["messages"][1].update(parent_ref=99), "not before it"),
    (lambda d: d["messages"][0].update(role="wizard"), "unknown role"),
    (lambda d: d.update(active_ref=1234), "missing message"),
    (lambda d: d["chat"].pop("title"), "title"),
    (lambda d: d["messages"][0].update(stats=[1]), "must be an object"),
])
def test_a_damaged_chat_export_imports_nothing(store: ChatStore, damage: object,
                                               message: str) -> None:
    data = chat_to_json(store, _branched_chat(store))
    damage(data)  # type: ignore[operator]
    before = len(store.list_chats())
    with pytest.raises(ExportFileError, match=message):
        import_chat(store, json.loads(json.dumps(data)))
    assert len(store.list_chats()) == before


def test_comparison_exports(store: ChatStore) -> None:
    variants = [Variant("Plain"), Variant("Hot | wild", sampling=SamplingSettings(temperature=1.3),
                                          model_path="/models/other.gguf")]
    saved = store.comparisons.save("Say hi", [
        VariantResult(variants[0], "Hi!", "complete", {"completion_tokens": 2,
                                                       "tokens_per_s": 81.5}),
        VariantResult(variants[1], "", "failed", None)])
    data = comparison_to_json(saved)
    assert data["format"] == "glassbox-comparison" and len(data["variants"]) == 2
    assert Variant.from_json(data["variants"][1]) == variants[1]
    text = comparison_to_markdown(saved)
    assert "| Plain | chat's model | 0.7 | 0 | 2 | 81.5 |" in text
    assert "| Hot \\| wild | other.gguf | 1.3 |" in text
    assert "*(failed, no text)*" in text


def test_a_chat_starts_from_a_few_shot_preset(store: ChatStore) -> None:
    preset = Preset("Labels", "few-shot", "", "Label {thing}.",
                    (Example("good", "positive"), Example("bad", "negative")))
    with pytest.raises(PresetError):
        new_chat_from_preset(store, preset, {})
    assert store.list_chats() == []
    chat = new_chat_from_preset(store, preset, {"thing": "reviews"})
    assert chat.system_prompt == "Label reviews."
    assert [(m.role, m.content) for m in store.messages(chat.id)] == [
        ("user", "good"), ("assistant", "positive"), ("user", "bad"), ("assistant", "negative")]
    apply_preset(store, chat.id, Preset("Terse", "style", "", "Be terse."))
    assert store.get_chat(chat.id).system_prompt == "Be terse."
    assert len(store.messages(chat.id)) == 4
