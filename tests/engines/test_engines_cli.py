"""`glassbox engines add|list|test|remove` and `ask --engine`, in process through core.cli.main,
against a real `glassbox serve`; keys never reach the database."""

from __future__ import annotations

import io
import json
import stat
import sys

import pytest

from core.cli import main
from core.config import data_home, database_path
from core.remote_engines import EngineRegistry
from core.secrets import keyring_works
from core.server.config import ServerConfig
from core.server.local_server import LocalServer


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_add_list_test_ask_remove(glassbox_server: LocalServer) -> None:
    code, out, _ = _run("engines", "add", "box", "--url", glassbox_server.url)
    assert code == 0 and "Saved engine box: openai" in out
    code, out, _ = _run("engines", "list", "--json")
    listed = json.loads(out)
    assert [(e["name"], e["url"], e["key"]) for e in listed] == [
        ("box", glassbox_server.url, "none")]

    code, out, _ = _run("engines", "test", "box", "--json")
    steps = {s["step"]: s for s in json.loads(out)}
    assert code == 0
    assert [steps[n]["ok"] for n in ("reachable", "auth", "models", "chat", "logprobs")] == [
        True] * 5
    assert steps["tokenize"]["ok"] is False  # glassbox serve has no tokenize endpoint
    assert "alternatives per token" in steps["logprobs"]["detail"]

    code, out, err = _run("ask", "What is 2+2?", "--engine", "box", "--temperature", "0",
                          "--max-tokens", "8", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["text"].strip() and answer["completion_tokens"] >= 1

    code, out, err = _run("compare", "Say hi", "--engine", "box", "--plain",
                          "--also-temperature", "1.2", "--max-tokens", "4", "--json", "--no-save")
    assert code == 0, err
    rows = json.loads(out)["variants"]
    assert [r["status"] for r in rows] == ["complete", "complete"]
    assert all(r["completion_tokens"] >= 1 for r in rows)

    code, out, _ = _run("engines", "remove", "box")
    assert code == 0 and "Removed engine box" in out
    assert json.loads(_run("engines", "list", "--json")[1]) == []


def test_unknown_engine_is_a_clear_error() -> None:
    code, _, err = _run("ask", "hi", "--engine", "nope")
    assert code == 1 and "No saved engine is called 'nope'" in err


def test_test_says_what_fails_on_an_unreachable_engine() -> None:
    _run("engines", "add", "gone", "--url", "http://127.0.0.1:9")
    code, out, _ = _run("engines", "test", "gone")
    assert code == 1
    assert out.splitlines()[0].startswith("FAIL reachable")
    assert "--   chat" in out


def test_a_key_from_stdin_goes_to_a_private_file_not_the_database(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert not keyring_works()  # this machine and CI: keyring's fail backend
    with LocalServer(ServerConfig(port=0, api_key="s3cret-key")) as srv:
        monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret-key\n"))
        code, out, err = _run("engines", "add", "locked", "--url", srv.url, "--api-key-stdin")
        assert code == 0 and "no system keyring service" in err
        key_file = data_home() / "keys" / "locked.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert b"s3cret-key" not in database_path().read_bytes()
        code, out, _ = _run("engines", "test", "locked")
        assert code == 0 and "ok   auth" in out
    _run("engines", "remove", "locked")
    assert not key_file.exists()


def test_a_key_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalServer(ServerConfig(port=0, api_key="env-key")) as srv:
        _run("engines", "add", "envbox", "--url", srv.url, "--api-key-env", "BOX_KEY")
        assert EngineRegistry().get("envbox").key.env == "BOX_KEY"
        code, _, err = _run("ask", "hi", "--engine", "envbox", "--max-tokens", "2")
        assert code == 1 and "$BOX_KEY, which is not set" in err
        monkeypatch.setenv("BOX_KEY", "wrong")
        code, _, err = _run("ask", "hi", "--engine", "envbox", "--max-tokens", "2")
        assert code == 1 and "refused the API key" in err
        monkeypatch.setenv("BOX_KEY", "env-key")
        code, _, err = _run("ask", "hi", "--engine", "envbox", "--max-tokens", "2")
        assert code == 0, err


def test_bad_names_and_kinds_are_refused() -> None:
    code, _, err = _run("engines", "add", "../x", "--url", "http://127.0.0.1:1")
    assert code == 1 and "cannot name an engine" in err
    code, _, err = _run("engines", "add", "x", "--url", "ftp://host")
    assert code == 1 and "not an http" in err
