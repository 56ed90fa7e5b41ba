"""Citations that cannot lie: replies written to break each rule, judged by the pure functions.

A grounded answer may cite a passage that was never given, restate the question (which shares
its words with every passage the search found), or answer from memory; each must be caught.
"""

from __future__ import annotations

import json

from citation_cases import OTHERS, QUESTION, grounding

from core.rag.attribution import attribute, is_backed
from core.rag.grounding import Grounding, cited_numbers, instructions


def _passages(given: Grounding) -> list[tuple[int, str]]:
    return [(s.number, s.text) for s in given.sources]


def test_the_prompt_says_how_many_passages_there_are() -> None:
    prompt = grounding().messages[-1].content
    assert "There are 6 passages, numbered [1] to [6]; cite only those." in prompt
    assert "[6] source-6.md\n" + OTHERS[4] in prompt
    assert prompt.endswith(f"Question: {QUESTION}")
    assert "There is 1 passage, numbered [1]; cite only it." in instructions(1)
    assert "numbered [1] to [2];" in grounding(2).messages[-1].content


def test_citations_of_passages_that_do_not_exist_are_counted_and_kept() -> None:
    # The reply the issue saw: honeybees, citing [7], [9] and [10] of six passages.
    answer = ("Honeybees cluster to keep warm [7]. They shiver their wing muscles [9], [1].\n"
              "In short, the hive survives the winter [10][7].")
    judged = grounding().with_answer(answer)
    assert judged.invalid_citations == (7, 9, 10)
    assert judged.passage_range() == "1–6"
    again = Grounding.from_json(json.loads(json.dumps(judged.to_json())))
    assert again == judged and again.invalid_citations == (7, 9, 10)
    # A bracketed number inside code is an index, not a citation.
    assert cited_numbers("Use `items[8]` or\n```\nx = rows[9]\n```\nas [2] says.") == [2]
    assert grounding().with_answer("Use `items[8]`, as [2] says.").invalid_citations == ()
    # Nothing matched: every citation points nowhere.
    empty = Grounding(QUESTION, ("coast",), (), 0, (), "", 2048).with_answer("It was 1882 [1].")
    assert empty.invalid_citations == (1,) and empty.passage_range() == "none"


def test_an_answer_no_passage_backs_is_marked_not_backed() -> None:
    given = grounding()
    # From memory, wrong, and uncited (the source says 1882).
    assert given.with_answer("The lighthouse was first lit in 1749.").backed is False
    # About something else, citing passages that exist: citing is not backing.
    assert given.with_answer("Glass lanterns are made in river towns [1][2].").backed \
        is False
    # The question said back, then nothing: the echo backs nothing.
    assert given.with_answer(QUESTION).backed is False
    # Right, short, and cited; right and uncited; right after an echo.
    assert given.with_answer("1882 [1].").backed is True
    assert given.with_answer("It was first lit in 1882, after three winters.").backed
    assert given.with_answer(f"{QUESTION} In 1882.").backed is True
    # Nothing to judge: an answer stopped before its first word.
    assert given.with_answer("").backed is None
    assert given.backed is None  # not judged until the answer is complete
    assert Grounding.from_json({**given.to_json(), "backed": False}).backed is False
    old = {k: v for k, v in given.to_json().items()
           if k not in ("backed", "invalid_citations")}
    assert Grounding.from_json(old) == given  # stored by an older version


def test_support_marks_go_to_answer_sentences_never_to_an_echo_of_the_question() -> None:
    given = grounding()
    echo = "You asked when the lighthouse on Kerrera island was first lit by its keepers."
    answer = (f"{QUESTION} {echo} The keepers first lit it in 1882, after three winters of "
              "building.")
    marks = attribute(answer, _passages(given), QUESTION)
    assert [(answer[a.start:a.end], a.number) for a in marks] == [
        ("The keepers first lit it in 1882, after three winters of building.", 1)]
    judged = given.with_answer(answer)
    assert [answer[a.start:a.end] for a in judged.attributions] == [
        "The keepers first lit it in 1882, after three winters of building."]
    # Without the question, the echo would pass for a quote: this is what the rule prevents.
    assert len(attribute(answer, _passages(given))) == 3
    assert is_backed(answer, _passages(given), QUESTION)
    assert not is_backed(f"{QUESTION} {echo}", _passages(given), QUESTION)


def test_citations_count_what_the_model_wrote_and_marks_what_glassbox_matched() -> None:
    given = grounding()
    answer = ("The ferry runs every hour in summer [3]. It was first lit in 1882 after three "
              "winters.")
    judged = given.with_answer(answer)
    assert cited_numbers(answer) == [3]
    assert [a.number for a in judged.attributions] == [1]  # the sentence the model did not cite
    rows = {r["number"]: r for r in judged.citations(answer)}
    assert rows[3]["cited"] and rows[1]["cited"] and not rows[2]["cited"]
