"""Grounded answers: passages in the prompt within budget, citations kept with the reply."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pypdf
import pytest
from rag_files import FREEDONIA

from core.chat import ChatSession, Grounded, ReplyStarted, SearchingDocuments
from core.config import database_path
from core.engine.client import EngineClient
from core.engine.types import ChatMessage, SamplingSettings
from core.rag.attribution import attribute, content_words
from core.rag.grounding import (
    PASSAGE_SHARE,
    Grounding,
    cited_numbers,
    ground,
    grounded_question,
    searcher,
)
from core.rag.library import DocumentLibrary
from core.store import ChatStore

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is the capital of Freedonia?"
SAMPLING = SamplingSettings(seed=3, max_tokens=24)


@pytest.fixture
def indexed(library: DocumentLibrary, corpus: Path) -> DocumentLibrary:
    library.add_paths("atlas", [corpus])
    assert library.index("atlas").failed == 0
    return library


def _ask(library: DocumentLibrary, engine: EngineClient, n_ctx: int = 2048,
         conversation: list[ChatMessage] | None = None) -> Grounding:
    messages = conversation or [ChatMessage("user", QUESTION)]
    return ground(messages, ["atlas"], searcher(library), engine, n_ctx, SAMPLING.max_tokens)


def test_prompt_holds_numbered_passages_and_the_budget_adds_up(
        indexed: DocumentLibrary, engine: EngineClient) -> None:
    grounding = _ask(indexed, engine)
    assert [s.number for s in grounding.sources] == list(range(1, len(grounding.sources) + 1))
    best = grounding.sources[0]
    assert best.path.endswith("atlas.pdf") and best.page == 2 and FREEDONIA in best.text
    assert best.vector_rank is not None and best.bm25_rank is not None
    last = grounding.messages[-1]
    assert last.role == "user" and last.content.endswith(f"Question: {QUESTION}")
    assert "[1] atlas.pdf, page 2\n" + FREEDONIA in last.content
    # The X-ray shows exactly what the model reads: the template applied to those messages.
    assert grounding.rendered == engine.render_prompt(grounding.messages)
    parts = {p.name: p.tokens for p in grounding.budget}
    prompt_tokens = engine.count_tokens(grounding.rendered)
    assert sum(parts[n] for n in ("system", "passages", "history", "question", "template")) \
        == prompt_tokens
    assert prompt_tokens + parts["reply"] + parts["free"] == grounding.n_ctx
    assert parts["passages"] > parts["question"] > 0 and parts["reply"] == SAMPLING.max_tokens


def test_a_small_window_takes_fewer_passages_and_drops_old_turns(
        indexed: DocumentLibrary, engine: EngineClient) -> None:
    roomy = _ask(indexed, engine)
    history = [ChatMessage("user", "Tell me a long story. " * 40),
               ChatMessage("assistant", "Once upon a time " * 60)]
    tight = _ask(indexed, engine, n_ctx=400, conversation=[*history,
                                                           ChatMessage("user", QUESTION)])
    assert 0 < len(tight.sources) < len(roomy.sources) and tight.left_out > 0
    parts = {p.name: p.tokens for p in tight.budget}
    assert parts["passages"] <= 400 * PASSAGE_SHARE
    assert tight.dropped_turns == 2 and len(tight.messages) == 1
    assert engine.count_tokens(tight.rendered) + parts["reply"] <= 400
    assert tight.sources[0].page == 2  # the best passage is the one kept


def test_grounding_survives_json_and_marks_what_the_answer_cites(
        indexed: DocumentLibrary, engine: EngineClient) -> None:
    grounding = _ask(indexed, engine)
    again = Grounding.from_json(json.loads(json.dumps(grounding.to_json())))
    assert again == grounding
    citations = again.citations("Zubrowka [1], and see [3; 1] but not [x] or [].")
    assert [c["number"] for c in citations if c["cited"]] == [1, 3]
    assert set(citations[0]) >= {"path", "page", "heading", "score", "text"}
    answer = "Zubrowka is the capital, a river town known for its glass lanterns."
    matched = again.with_answer(answer)
    assert Grounding.from_json(json.loads(json.dumps(matched.to_json()))) == matched
    rows = matched.citations(answer)
    assert rows[0]["cited"] and rows[0]["quotes"] == [answer]
    assert not any(r["cited"] for r in rows[1:])


def test_sentences_are_matched_to_the_passage_they_draw_on() -> None:
    passages = [(1, "The atlas begins with a map of the northern mountains."), (2, FREEDONIA)]
    answer = ("Zubrowka is the capital of Freedonia, known for glass lanterns. Yes. "
              "Bananas grow quickly in tropical weather.\nIts seven bridges cross the river [1].")
    found = attribute(answer, passages)
    assert [(answer[a.start:a.end], a.number) for a in found] == [
        ("Zubrowka is the capital of Freedonia, known for glass lanterns.", 2)]
    assert found[0].overlap >= 0.8
    assert content_words("The río of Zürich, 2024!") == {"río", "zürich", "2024"}
    assert attribute("", passages) == [] and attribute(answer, []) == []


def test_cited_numbers_reads_the_usual_forms() -> None:
    assert cited_numbers("A [2] b [1, 4][2] c [10]") == [2, 1, 4, 10]
    assert cited_numbers("no citations [a] [ ] (1)") == []


def test_no_collection_or_no_match_leaves_the_question_as_typed(
        library: DocumentLibrary, engine: EngineClient) -> None:
    grounding = ground([ChatMessage("user", QUESTION)], ["removed"], searcher(library), engine,
                       2048, 24)
    assert grounding.sources == () and grounding.messages[-1].content == QUESTION
    assert grounded_question(QUESTION, []) == QUESTION


def test_chat_session_grounds_a_chat_and_keeps_the_sources_with_the_reply(
        indexed: DocumentLibrary, engine: EngineClient) -> None:
    with ChatStore(database_path()) as store:
        chat = store.create_chat()
        store.set_chat_collections(chat.id, ["atlas", "atlas"])
        assert store.get_chat(chat.id).collections == ("atlas",)
        session = ChatSession(store, engine, search=searcher(indexed))
        events = list(session.send(chat.id, QUESTION, SAMPLING))
        kinds = [type(e) for e in events]
        assert kinds[0] is SearchingDocuments and kinds.index(ReplyStarted) < kinds.index(Grounded)
        first, last = [e for e in events if isinstance(e, Grounded)]
        assert kinds.index(Grounded, kinds.index(Grounded) + 1) == len(kinds) - 2  # before Done
        user, reply = store.messages(chat.id)
        assert user.content == QUESTION  # the chat keeps what was typed, not the passages
        assert reply.id == first.reply_message_id and reply.grounding is not None
        assert Grounding.from_json(reply.grounding) == last.grounding
        assert last.grounding == first.grounding.with_answer(reply.content)
        # A collection removed later: the chat still answers, from nothing.
        indexed.remove_collection("atlas")
        events = list(session.regenerate(chat.id, SAMPLING))
        grounding = next(e for e in events if isinstance(e, Grounded)).grounding
        assert grounding.sources == () and grounding.messages[-1].content == QUESTION


def _pdf_page_text(path: str, page: int) -> str:
    reader = pypdf.PdfReader(io.BytesIO(Path(path).read_bytes()))
    return " ".join((reader.pages[page - 1].extract_text() or "").split())


def test_cli_ask_with_a_collection_cites_pages_that_hold_the_text(
        indexed: DocumentLibrary) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "ask", QUESTION, "--collection", "atlas",
         "--json", "--max-tokens", "16", "--seed", "1"],
        capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    citations = answer["citations"]
    assert answer["text"] and citations and citations[0]["page"] == 2
    # What cannot be trusted travels with the answer too (judged by tests/rag/test_citations).
    assert answer["backed"] in (True, False, None)
    assert all(n > len(citations) for n in answer["invalid_citations"])
    for citation in citations:
        if citation["page"] is not None:
            assert " ".join(citation["text"].split()) in _pdf_page_text(citation["path"],
                                                                        citation["page"])
    missing = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "ask", "x", "--collection", "nope"],
        capture_output=True, text=True, timeout=240, check=False)
    assert missing.returncode == 1 and "no collection named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
