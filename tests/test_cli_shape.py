"""One CLI shape (issue 19, item 5): every command is registered the same way, runs as
`func(args, out, err)`, writes only to the streams it is given and reports errors one way."""

from __future__ import annotations

import argparse
import inspect
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core import cli
from core.config import database_path
from core.store import ChatStore

Leaf = tuple[tuple[str, ...], Callable[..., int] | None]


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = (),
              inherited: Any = None) -> Iterator[Leaf]:
    """Every command a user can type, with the runner argparse would hand to main."""
    func = parser.get_default("func") or inherited
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups or not all(g.required for g in groups):
        yield path, func
    for group in groups:
        for name, child in group.choices.items():
            yield from _commands(child, (*path, name), func)


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_every_command_has_a_runner_of_the_one_shape() -> None:
    commands = dict(_commands(cli.build_parser()))
    assert {("ask",), ("chat",), ("chat", "list"), ("chat", "export"), ("compare",),
            ("presets",), ("docs", "list"), ("models", "remove"), ("inspect", "anatomy"),
            ("doctor",)} <= set(commands)
    for path, func in commands.items():
        assert func is not None, path
        assert list(inspect.signature(func).parameters) == ["args", "out", "err"], path


def test_main_writes_only_to_the_streams_it_is_given(
        capsys: pytest.CaptureFixture[str]) -> None:
    with ChatStore(database_path()) as store:
        store.create_chat("Kept")
    for argv in (["models", "list"], ["models", "list", "--json"], ["models", "hardware"],
                 ["docs", "list"], ["presets"], ["chat", "list"], ["chat", "export", "1"],
                 ["doctor"], ["doctor", "--json"], ["inspect", "tokens", "Hi"],
                 ["ask", "Hi", "--max-tokens", "2", "--seed", "1", "--json"]):
        code, out, _ = _main(*argv)
        assert out.strip(), argv
        assert code == 0 or argv[0] == "doctor", argv
    code, out, err = _main("models", "info", "no-such-model")
    assert code == 1 and out == "" and err.startswith("glassbox: error: ")
    code, out, err = _main("ask", "Hi", "--max-tokens", "0")
    assert (code, out, err) == (1, "", "glassbox: error: --max-tokens must be at least 1.\n")
    assert capsys.readouterr() == ("", "")  # nothing reached the real stdout or stderr


def test_presets_as_json() -> None:
    code, out, _ = _main("presets", "--json")
    presets = json.loads(out)
    assert code == 0 and presets
    assert all(set(p) == {"kind", "name", "description", "variables"} for p in presets)
    assert any(p["variables"] for p in presets)  # e.g. {topic}
    code, text, _ = _main("presets")
    assert text.splitlines()[0].startswith(f"{presets[0]['kind']:9} {presets[0]['name']}")


def test_chat_list_and_import_as_json(tmp_path: Path) -> None:
    with ChatStore(database_path()) as store:
        chat = store.create_chat("Exported")
        store.add_message(chat.id, "user", "Name a fruit.")
    export = tmp_path / "chat.json"
    assert _main("chat", "export", str(chat.id), "-o", str(export))[0] == 0
    code, out, _ = _main("chat", "import", str(export), "--json")
    imported = json.loads(out)
    assert code == 0 and imported["title"] == "Exported" and imported["id"] != chat.id
    code, out, _ = _main("chat", "list", "--json")
    assert code == 0
    assert sorted(json.loads(out), key=lambda c: c["id"]) == [
        {"id": chat.id, "title": "Exported"}, {"id": imported["id"], "title": "Exported"}]
