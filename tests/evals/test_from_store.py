"""Eval sets made from a chat and from a saved comparison, through `glassbox eval make-set`,
then read back by the set loader as any set file is."""

from __future__ import annotations

import io
import json
from pathlib import Path

from core.cli import main
from core.config import database_path
from core.evals.sets import load_set
from core.prompts.compare import Variant
from core.store import ChatStore
from core.store.comparisons import VariantResult


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


def test_a_chat_becomes_questions_with_the_answers_they_got(tmp_path: Path) -> None:
    with ChatStore(database_path()) as store:
        chat = store.create_chat("Capitals")
        store.add_message(chat.id, "user", "Capital of France?")
        store.add_message(chat.id, "assistant", "Paris.")
        store.add_message(chat.id, "user", "And of Perú?")
        store.add_message(chat.id, "assistant", "Lim", status="interrupted")  # not a reference
        store.add_message(chat.id, "user", "Of Japan?")
        store.add_message(chat.id, "assistant", "Tokyo.")
        comparison = store.comparisons.save("Name a colour.", [
            VariantResult(Variant("A"), "Blue."), VariantResult(Variant("B"), "Red."),
            VariantResult(Variant("C"), "", status="failed")])
    target = tmp_path / "sets" / "capitals.jsonl"
    code, out, err = _run("eval", "make-set", "--chat", str(chat.id), "-o", str(target))
    assert code == 0, err
    assert "Wrote 2 items" in out
    items = load_set(target).items
    assert [(i.prompt, i.references) for i in items] == [
        ("Capital of France?", ("Paris.",)), ("Of Japan?", ("Tokyo.",))]
    assert len({i.id for i in items}) == 2

    colours = tmp_path / "colours.jsonl"
    code, _, err = _run("eval", "make-set", "--comparison", str(comparison.id), "-o",
                        str(colours))
    assert code == 0, err
    (item,) = load_set(colours).items
    assert item.prompt == "Name a colour." and item.references == ("Blue.", "Red.")
    assert json.loads(colours.read_text(encoding="utf-8"))["prompt"] == "Name a colour."


def test_nothing_to_make_a_set_from_is_said_plainly(tmp_path: Path) -> None:
    with ChatStore(database_path()) as store:
        empty = store.create_chat("Empty")
        store.add_message(empty.id, "user", "Hello?")
    target = tmp_path / "none.jsonl"
    code, _, err = _run("eval", "make-set", "--chat", str(empty.id), "-o", str(target))
    assert code != 0 and "no question with a complete answer" in err
    assert not target.exists()
    code, _, err = _run("eval", "make-set", "--comparison", "999", "-o", str(target))
    assert code != 0 and "999" in err and not target.exists()
