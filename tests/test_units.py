"""Pure functions of the engine and the crash guard, without a model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from core.engine.budget import fit_messages, reply_reserve
from core.engine.chat_template import ChatTemplate
from core.engine.load_guard import LoadGuard
from core.engine.types import ChatMessage
from core.errors import PromptError


def words(messages: Sequence[ChatMessage]) -> int:
    return sum(len(m.content.split()) + 1 for m in messages)


def test_budget_drops_oldest_turns_and_keeps_system() -> None:
    msgs = [ChatMessage("system", "be brief"), ChatMessage("user", "a " * 10),
            ChatMessage("assistant", "b " * 10), ChatMessage("user", "last question")]
    kept, dropped = fit_messages(msgs, words, n_ctx=20, reserve=5)
    assert dropped == 2
    assert kept == [msgs[0], msgs[3]]


def test_budget_keeps_everything_that_fits() -> None:
    msgs = [ChatMessage("user", "hi"), ChatMessage("assistant", "hello"), ChatMessage("user", "x")]
    assert fit_messages(msgs, words, n_ctx=100, reserve=10) == (msgs, 0)


def test_budget_refuses_a_single_message_too_long() -> None:
    with pytest.raises(PromptError, match="needs 51 tokens, but only 15"):
        fit_messages([ChatMessage("user", "w " * 50)], words, n_ctx=20, reserve=5)


def test_reply_reserve_is_capped_at_half_the_window() -> None:
    assert reply_reserve(512, 4096) == 512
    assert reply_reserve(4000, 1024) == 512


def test_template_renders_roles_and_generation_prompt() -> None:
    t = ChatTemplate(None)
    text = t.render([ChatMessage("system", "S"), ChatMessage("user", "U")])
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" \
                   "<|im_start|>assistant\n"
    assert not t.from_model


def test_template_is_sandboxed() -> None:
    hostile = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    t = ChatTemplate(hostile)
    with pytest.raises(PromptError):
        t.render([ChatMessage("user", "hi")])


def test_template_raise_exception_becomes_prompt_error() -> None:
    t = ChatTemplate("{{ raise_exception('roles must alternate') }}")
    with pytest.raises(PromptError, match="roles must alternate"):
        t.render([ChatMessage("user", "hi")])


def test_broken_template_falls_back_to_chatml() -> None:
    t = ChatTemplate("{% for %}")
    assert not t.from_model
    assert "<|im_start|>user" in t.render([ChatMessage("user", "hi")])


def test_load_guard_remembers_a_load_that_never_finished(tmp_path: Path) -> None:
    guard = LoadGuard(tmp_path)
    assert guard.crashed_while_loading() is None
    guard.begin("/models/x.gguf")
    assert LoadGuard(tmp_path).crashed_while_loading() == "/models/x.gguf"
    guard.end()
    assert LoadGuard(tmp_path).crashed_while_loading() is None
