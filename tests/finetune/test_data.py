"""Training data: every source shape, what is skipped and why, and the seeded split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.engine.types import ChatMessage
from core.errors import TrainingDataError
from core.finetune.data import (
    Dataset,
    Example,
    check_usable,
    from_chats,
    from_preset,
    load_csv,
    load_file,
    load_jsonl,
    read_jsonl,
    split,
    write_jsonl,
)
from core.prompts.presets import Example as PresetExample
from core.prompts.presets import Preset
from core.store import ChatStore


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_keeps_good_lines_and_names_malformed_ones(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.jsonl", [
        json.dumps({"prompt": "Hi", "response": "Hello!"}),
        "{not json",
        json.dumps({"prompt": "Only a prompt"}),
        "",
        json.dumps({"messages": [{"role": "system", "content": "S"},
                                 {"role": "user", "content": "Q"},
                                 {"role": "assistant", "content": "A"}]}),
        json.dumps({"messages": [{"role": "user", "content": "Q"}]}),
        json.dumps(["a", "list"]),
    ])
    data = load_jsonl(path)
    assert len(data.examples) == 2
    assert data.examples[0] == Example((ChatMessage("user", "Hi"),), "Hello!")
    assert data.examples[1].messages == (ChatMessage("system", "S"), ChatMessage("user", "Q"))
    assert data.examples[1].response == "A"
    numbers = [p.split(":")[0] for p in data.problems]
    assert numbers == ["line 2", "line 3", "line 6", "line 7"]
    assert "not valid JSON" in data.problems[0]


def test_csv_with_prompt_and_response_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('Prompt,response,system\n"a, with comma",b,\nc,,\n"multi\nline",d,Sys\n',
                    encoding="utf-8")
    data = load_file(path)
    assert [e.response for e in data.examples] == ["b", "d"]
    assert data.examples[0].messages == (ChatMessage("user", "a, with comma"),)
    assert data.examples[1].messages[0] == ChatMessage("system", "Sys")
    assert data.problems == ("row 3: 'prompt' or 'response' is empty",)


def test_csv_without_the_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("question,answer\na,b\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match="prompt' and 'response' columns"):
        load_csv(path)


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=".jsonl"):
        load_file(tmp_path / "d.txt")
    with pytest.raises(TrainingDataError, match="not found"):
        load_file(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("count", [0, 1])
def test_empty_or_single_example_datasets_are_refused(tmp_path: Path, count: int) -> None:
    lines = [json.dumps({"prompt": "p", "response": "r"})] * count + ["garbage"]
    data = load_jsonl(_write(tmp_path / "d.jsonl", lines))
    assert len(data.examples) == count
    with pytest.raises(TrainingDataError, match="at least 2") as caught:
        split(data)
    assert "line " in str(caught.value)  # says what was skipped
    check_usable(Dataset(data.examples * 2 or (Example(text="a"), Example(text="b")), "x"))


def test_split_is_seeded_disjoint_and_holds_out_at_least_one() -> None:
    data = Dataset(tuple(Example(text=f"t{i}") for i in range(25)), "texts")
    first, again, other = split(data, seed=7), split(data, seed=7), split(data, seed=8)
    assert first == again
    assert first.held_out_indices != other.held_out_indices
    assert len(first.held_out) == 2 and len(first.train) == 23  # 10 % of 25, rounded
    assert not set(first.held_out) & set(first.train)
    small = split(Dataset(data.examples[:3], "three"))
    assert len(small.held_out) == 1 and len(small.train) == 2
    assert len(split(Dataset(data.examples[:2], "two"), fraction=0.9).train) == 1


def test_examples_round_trip_through_the_run_files(tmp_path: Path) -> None:
    examples = [Example((ChatMessage("user", "é?"),), "ü"), Example(text="plain\ntext")]
    write_jsonl(examples, tmp_path / "x.jsonl")
    assert read_jsonl(tmp_path / "x.jsonl") == examples


def test_preset_few_shot_examples() -> None:
    preset = Preset("tutor", kind="few-shot", system_prompt="Teach {topic}.",
                    examples=(PresetExample("What is {topic}?", "A subject."),
                              PresetExample("Why?", "Because.")),
                    defaults={"topic": "maths"})
    data = from_preset(preset)
    assert [e.response for e in data.examples] == ["A subject.", "Because."]
    assert data.examples[0].messages == (ChatMessage("system", "Teach maths."),
                                         ChatMessage("user", "What is maths?"))


def test_chats_from_the_store(glassbox_home: Path) -> None:
    glassbox_home.mkdir(parents=True, exist_ok=True)
    with ChatStore(glassbox_home / "db.sqlite3") as store:
        chat = store.create_chat(system_prompt="Be kind.")
        store.add_message(chat.id, "user", "One?")
        store.add_message(chat.id, "assistant", "Uno.")
        store.add_message(chat.id, "user", "Two?")
        store.add_message(chat.id, "assistant", "Do", status="interrupted")
        data = from_chats(store, [chat.id])
    assert len(data.examples) == 1
    assert data.examples[0].messages == (ChatMessage("system", "Be kind."),
                                         ChatMessage("user", "One?"))
    assert data.examples[0].response == "Uno."
    assert "interrupted" in data.problems[0]


def test_a_collection_as_plain_text_in_document_order(glassbox_home: Path) -> None:
    import numpy as np

    from core.finetune.data import from_collection
    from core.rag.chunk import Chunk
    from core.rag.index_store import IndexStore

    glassbox_home.mkdir(parents=True, exist_ok=True)
    db = glassbox_home / "db.sqlite3"
    with IndexStore(db) as store:
        collection = store.create_collection("notes")
        store.add_documents(collection, ["/docs/a.md"])
        document = store.documents(collection)[0].id
        chunks = [Chunk("Second part.", None, None, 1, 3), Chunk("First part.", None, None, 0, 3),
                  Chunk("   ", None, None, 2, 1)]
        store.store_document(document, chunks, np.ones((3, 384), dtype=np.float32), "h", 0.0, 1)
    data = from_collection("notes", db)
    assert [e.text for e in data.examples] == ["First part.", "Second part."]
    assert all(e.is_text for e in data.examples)
    with pytest.raises(TrainingDataError, match="No document collection"):
        from_collection("missing", db)


def test_files_written_for_a_run_load_back_as_training_data(tmp_path: Path) -> None:
    examples = [Example((ChatMessage("system", "S"), ChatMessage("user", "Q")), "A"),
                Example(text="plain")]
    write_jsonl(examples, tmp_path / "x.jsonl")
    assert load_jsonl(tmp_path / "x.jsonl").examples == tuple(examples)
