"""The front door (core/api.py): every name resolves to the object its module holds, importing
it costs nothing, and a program can run a chat turn with the user's own settings through it."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core import api
from core.store import ChatStore

REPO = Path(__file__).resolve().parents[1]


def test_every_name_is_the_object_its_module_holds() -> None:
    for name in api.__all__:
        value = getattr(api, name)
        home = api._HOMES.get(name)
        if home is not None:
            assert value is getattr(importlib.import_module(home), name), name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        api.Nope  # noqa: B018


def test_importing_the_front_door_loads_nothing_heavy() -> None:
    heavy = ("numpy", "torch", "llama_cpp", "apsw", "sentence_transformers", "PySide6")
    out = subprocess.run(
        [sys.executable, "-c", "import sys; import core.api; "
         f"print(','.join(m for m in {heavy!r} if m in sys.modules))"],
        capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_a_chat_turn_through_the_front_door_uses_the_saved_load_settings(
        glassbox_home: Path) -> None:
    from core.settings import LoadSettings, update

    with ChatStore(api.database_path()) as store:
        update(store.settings, LoadSettings, n_ctx=1536)  # as the Models tab saves it
    assert api.saved_settings().load.n_ctx == 1536
    with api.open_chats() as chats, api.start_engine() as engine:
        info = api.load_model(engine, "bundled:smollm2-135m-instruct")
        assert info.n_ctx == 1536
        session = api.ChatSession(chats, engine)
        chat = chats.create_chat("front door")
        events = list(session.send(chat.id, "Say hello.",
                                   api.SamplingSettings(seed=1, max_tokens=8)))
        tokens = [e for e in events if isinstance(e, api.TokenEvent)]
        assert tokens and isinstance(events[-1], api.DoneEvent)
        stored = chats.messages(chat.id)
        assert [m.role for m in stored] == ["user", "assistant"]
        assert stored[1].content == "".join(t.text for t in tokens)


def test_an_unknown_model_name_is_refused_with_a_clear_error(glassbox_home: Path) -> None:
    with pytest.raises(api.UnknownModel):
        api.resolve_model("no-such-model")
    assert api.resolve_model(None).suffix == ".gguf"  # the library's default


def test_the_core_package_reexports_the_front_door() -> None:
    import core

    assert core.ChatSession is api.ChatSession and core.open_chats is api.open_chats
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        core.nothing_here  # noqa: B018


def test_the_readme_example_runs(glassbox_home: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\n") + len("```python\n")
    code = textwrap.dedent(readme[start:readme.index("```", start)])
    assert code.startswith("from core import api")
    code = code.replace("api.saved_settings().sampling",
                        "api.SamplingSettings(seed=1, max_tokens=6)")  # short, the same path
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=240)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()  # the reply, streamed
