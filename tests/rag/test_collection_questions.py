"""Questions about a whole collection ("which of my files...", "how many documents...",
"summarize each file"): recognised by their wording, answered from one entry per document,
with counts taken from the index rather than left to the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.engine.client import EngineClient
from core.engine.types import ChatMessage
from core.rag.collection_questions import CollectionQuestion, collection_question, lead_text
from core.rag.grounding import Grounding, ground, searcher
from core.rag.library import DocumentLibrary

FILES = {
    "lighthouse.md": "# The Skerry Light\n\nThe lighthouse on the skerry was first lit in "
                     "1882. Its keepers trimmed the lamp every night.\n\n## Keepers\n\nThree "
                     "keepers lived at the lighthouse in turns; the lighthouse log survives.",
    "bees.md": "# Keeping bees\n\nHoney bees live in colonies of tens of thousands. A hive "
               "makes honey from nectar.\n\n## Swarming\n\nIn spring a colony may swarm.",
    "recipes.txt": "Honey cake\n\nMix flour, eggs and honey; bake for forty minutes at 180 "
                   "degrees. Serve with tea.",
    "tides.md": "# Tides\n\nTides rise and fall twice a day, pulled by the moon and the sun. "
                "Spring tides are the highest.",
}


@pytest.fixture
def shelf(library: DocumentLibrary, tmp_path: Path) -> DocumentLibrary:
    folder = tmp_path / "shelf"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    library.add_paths("shelf", [folder])
    assert library.index("shelf").failed == 0
    return library


@pytest.mark.parametrize(("text", "kind", "topic"), [
    ("Which of my files talk about lighthouses?", "which", "lighthouses"),
    ("which documents cover WAL", "which", "WAL"),
    ("Find all documents about vacuum.", "which", "vacuum"),
    ("How many documents mention honey bees?", "count", "honey bees"),
    ("how many of my files mention the word 'rebase'?", "count", "rebase"),
    ("In how many documents is autovacuum mentioned?", "count", "autovacuum"),
    ("Summarize each file.", "summarize", None),
    ("Summarise all of my documents", "summarize", None),
    ("What is each document about?", "summarize", None),
    ("What documents do I have?", "list", None),
    ("What's in my collection?", "list", None),
])
def test_questions_about_the_collection_are_recognised(text: str, kind: str,
                                                       topic: str | None) -> None:
    assert collection_question(text) == CollectionQuestion(kind, topic)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    "Which files does git ignore?",  # about the subject, not the collection
    "Which file contains the global git configuration?",
    "How many files can git track?",
    "How many pages does the manual have?",
    "What documents do I need for a visa?",
    "How do I add files to git?",
    "What is the capital of Freedonia?",
    "", "?", "documents " * 200,
])
def test_passage_questions_are_left_to_passage_search(text: str) -> None:
    assert collection_question(text) is None


def test_lead_text_ends_at_a_sentence_or_a_word() -> None:
    text = "First sentence here. " + "word " * 100
    assert lead_text(text, 60) == "First sentence here." or lead_text(text, 60).endswith("…")
    assert lead_text("short", 60) == "short"
    cut = lead_text("x" * 10 + " " + "y" * 300, 60)
    assert cut == "x" * 10 + "…"


def test_how_many_is_counted_in_the_index_and_given_to_the_model(
        shelf: DocumentLibrary, engine: EngineClient) -> None:
    question = "How many documents mention honey?"
    hits = searcher(shelf)(question, ["shelf"], 6)
    assert hits and {h.kind for h in hits} == {"document"}
    assert hits[0].collection_counts == (4, 2)  # bees.md and recipes.txt
    # Only the documents that mention it are listed.
    assert sorted(Path(h.path).name for h in hits) == ["bees.md", "recipes.txt"]
    grounding = ground([ChatMessage("user", question)], ["shelf"], searcher(shelf), engine,
                       2048, 64)
    prompt = grounding.messages[-1].content
    assert 'Counted in the index: 2 of the 4 documents mention "honey"' in prompt
    assert "\n\nDocuments:\n\n[1] " in prompt and prompt.endswith(f"Question: {question}")
    assert all(s.kind == "document" for s in grounding.sources)
    # The Sources pane reads it back after a restart.
    assert Grounding.from_json(grounding.to_json()).sources == grounding.sources
    # Backed: the count the index made, a listed document named or cited; not: anything else.
    assert grounding.with_answer("Two documents do: 2.").backed is True
    assert grounding.with_answer("The bees file mentions it.").backed is True
    assert grounding.with_answer("See [1].").backed is True
    assert grounding.with_answer("Seven documents mention honey.").backed is False
    assert grounding.with_answer("Only [9] does.").invalid_citations == (9,)


def test_how_many_with_no_mention_says_zero_and_shows_the_nearest(
        shelf: DocumentLibrary, engine: EngineClient) -> None:
    question = "How many documents mention volcanoes?"
    hits = searcher(shelf)(question, ["shelf"], 6)
    assert 0 < len(hits) <= 3 and hits[0].collection_counts == (4, 0)
    grounding = ground([ChatMessage("user", question)], ["shelf"], searcher(shelf), engine,
                       2048, 64)
    assert 'Counted in the index: 0 of the 4 documents mention "volcanoes"' in \
        grounding.messages[-1].content


def test_which_files_ranks_the_document_about_the_topic_first(shelf: DocumentLibrary) -> None:
    hits = searcher(shelf)("Which of my files talk about lighthouses?", ["shelf"], 6)
    assert Path(hits[0].path).name == "lighthouse.md"
    assert "recipes.txt" not in {Path(h.path).name for h in hits}  # far from lighthouses
    first = hits[0].text
    assert "Title: lighthouse" in first and "Keepers" in first
    assert 'Passages mentioning "lighthouses": ' in first


def test_summarize_each_file_lists_every_document(shelf: DocumentLibrary,
                                                  engine: EngineClient) -> None:
    question = "Summarize each file in my collection"
    hits = searcher(shelf)(question, ["shelf"], 6)
    assert sorted(Path(h.path).name for h in hits) == sorted(FILES)
    assert all(h.collection_counts == (4, None) for h in hits)
    grounding = ground([ChatMessage("user", question)], ["shelf"], searcher(shelf), engine,
                       2048, 64)
    prompt = grounding.messages[-1].content
    assert "The collection has 4 documents. All are listed below" in prompt
    assert "Tides rise and fall" in prompt  # each entry's opening lines


def test_a_small_window_lists_fewer_documents_and_says_how_many_there_are(
        shelf: DocumentLibrary, engine: EngineClient) -> None:
    grounding = ground([ChatMessage("user", "Summarize each file")], ["shelf"],
                       searcher(shelf), engine, 420, 64)
    assert 0 < len(grounding.sources) < 4 and grounding.left_out > 0
    assert (f"The collection has 4 documents. Below are {len(grounding.sources)} of them"
            in grounding.messages[-1].content)


def test_passage_questions_still_get_passages(shelf: DocumentLibrary) -> None:
    hits = searcher(shelf)("When was the lighthouse first lit?", ["shelf"], 3)
    assert hits and all(h.kind == "passage" for h in hits)
    assert "1882" in hits[0].text


def test_an_empty_collection_answers_without_error(library: DocumentLibrary,
                                                   engine: EngineClient) -> None:
    library.create_collection("empty")
    assert searcher(library)("Summarize each file", ["empty"], 6) == []
    grounding = ground([ChatMessage("user", "How many documents mention honey?")], ["empty"],
                       searcher(library), engine, 2048, 64)
    assert grounding.sources == () and grounding.messages[-1].content.startswith("How many")
