"""Presets: variables, few-shot rendering, the starter set, and their place in the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.engine.types import ChatMessage
from core.errors import StoreError
from core.prompts.presets import Example, Preset, PresetError, fill, load_presets, starter_file
from core.store import ChatStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChatStore]:
    s = ChatStore(tmp_path / "chats.sqlite3")
    yield s
    s.close()


TUTOR = Preset("Tutor", "persona", "", "Teach {topic} to a {level} learner. Braces: {{x}}.",
               (Example("What is {topic}?", "Let's find out together."),),
               defaults={"level": "beginner"})


def test_variables_are_found_in_order_once() -> None:
    assert TUTOR.variables() == ["topic", "level"]
    assert Preset("plain", system_prompt="No variables, {\"json\": 1}").variables() == []


def test_render_fills_variables_and_turns_examples_into_messages() -> None:
    messages = TUTOR.render({"topic": "attention"})
    assert messages == [
        ChatMessage("system", "Teach attention to a beginner learner. Braces: {x}."),
        ChatMessage("user", "What is attention?"),
        ChatMessage("assistant", "Let's find out together."),
    ]
    assert TUTOR.render({"topic": "sampling", "level": "advanced"})[0].content.startswith(
        "Teach sampling to a advanced")


def test_a_missing_variable_is_named_in_the_error() -> None:
    with pytest.raises(PresetError, match=r"needs a value for \{topic\}"):
        TUTOR.render({"topic": "   "})


def test_fill_leaves_json_and_unknown_names_alone() -> None:
    assert fill('{"name": "Ada"} and {unknown}', {"name": "x"}) == '{"name": "Ada"} and {unknown}'


@pytest.mark.parametrize("bad, message", [
    ([], "JSON object"),
    ({"name": ""}, "non-empty"),
    ({"name": "x", "kind": "wizard"}, "kind 'wizard'"),
    ({"name": "x", "examples": [{"user": "only a question"}]}, "examples must be"),
    ({"name": "x", "defaults": {"topic": 3}}, "defaults must"),
    ({"name": "x", "system_prompt": ["not", "text"]}, "must be text"),
])
def test_malformed_presets_are_refused_with_a_reason(bad: object, message: str) -> None:
    with pytest.raises(PresetError, match=message):
        Preset.from_json(bad)


def test_json_round_trip_is_lossless() -> None:
    assert Preset.from_json(TUTOR.to_json()) == TUTOR


def test_the_starter_set_has_personas_few_shot_sets_and_a_reasoning_style() -> None:
    presets = load_presets(starter_file())
    kinds = {p.kind for p in presets}
    assert kinds == {"persona", "few-shot", "style"}
    names = {p.name for p in presets}
    assert {"Patient tutor", "Terse code reviewer", "Socratic questioner", "Sentiment labels",
            "JSON extraction", "Step by step"} <= names
    for preset in presets:  # every starter renders once its variables are filled
        values = {n: "x" for n in preset.variables()}
        assert preset.render(values)
    extraction = next(p for p in presets if p.name == "JSON extraction")
    rendered = extraction.render()
    assert [m.role for m in rendered] == ["system", "user", "assistant", "user", "assistant"]
    assert rendered[2].content.startswith('{"name": "Ada"')


def test_starters_are_seeded_once_and_a_deleted_one_stays_deleted(store: ChatStore) -> None:
    added = store.presets.seed()
    assert added == len(store.presets.list()) >= 6
    store.presets.delete("Socratic questioner")
    assert store.presets.seed() == 0
    assert "Socratic questioner" not in [p.name for p in store.presets.list()]
    assert store.presets.list()[0].kind == "persona"  # personas first


def test_save_edit_rename_and_conflicts(store: ChatStore, tmp_path: Path) -> None:
    store.presets.save(TUTOR)
    assert store.presets.get("Tutor") == TUTOR
    edited = Preset("Kind tutor", "persona", "d", "Be kind about {topic}.")
    store.presets.save(edited, replacing="Tutor")
    assert [p.name for p in store.presets.list()] == ["Kind tutor"]
    store.presets.save(Preset("Other", "style"))
    with pytest.raises(StoreError, match="exists already"):
        store.presets.save(Preset("Other", "persona"), replacing="Kind tutor")
    with pytest.raises(StoreError, match="no preset called “Nope”"):
        store.presets.get("Nope")
    store.close()
    with ChatStore(tmp_path / "chats.sqlite3") as reopened:
        assert reopened.presets.get("Kind tutor") == edited


def test_a_broken_preset_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(PresetError, match="Cannot read presets"):
        load_presets(path)
    path.write_text('{"name": "a dict, not a list"}', encoding="utf-8")
    with pytest.raises(PresetError, match="JSON list"):
        load_presets(path)
