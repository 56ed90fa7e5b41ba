"""The attention capture's memory budget, shared by the Attention panel and the CLI."""

from __future__ import annotations

import sys

import pytest

from core import cli_inspect
from core.cli import build_parser
from core.engine.attention_plan import (
    CELL_BUDGET,
    AttentionPlan,
    plan_attention,
    plan_for_text,
    reply_offset,
)
from core.engine.client import EngineClient
from core.engine.introspect_types import TokenPiece

LONG = ("Old maps show roads that no longer exist and leave out cities that grew up "
        "afterwards, while the harbour records list every ship that came in. ") * 12


def pieces(*texts: str) -> list[TokenPiece]:
    return [TokenPiece(i, text, text.encode().hex(), False) for i, text in enumerate(texts)]


def test_plan_keeps_a_capture_within_budget() -> None:
    assert plan_attention(120, 0, 30, 9) == AttentionPlan()
    long_reply = plan_attention(1200, 100, 30, 9)
    # 30 x 9 x 100 x 1200 = 32M values even with the reply's rows only: heads are averaged.
    assert long_reply.reply_only and long_reply.mean_heads and long_reply.layers is None
    assert plan_attention(1200, 40, 30, 9) == AttentionPlan(reply_only=True)
    prompt = plan_attention(600, 0, 30, 9)
    assert prompt.mean_heads and prompt.layers is None  # 30*600*600 = 10.8M fits
    huge = plan_attention(2048, 0, 30, 9)
    assert huge.mean_heads and huge.layers is not None
    assert huge.layers[-1] == 29 and len(huge.layers) * 2048 * 2048 <= CELL_BUDGET
    for n_tokens, n_reply in ((64, 0), (300, 0), (900, 200), (2048, 1500)):
        plan = plan_attention(n_tokens, n_reply, 30, 9)
        rows = n_reply if plan.reply_only else n_tokens
        heads = 1 if plan.mean_heads else 9
        layers = len(plan.layers) if plan.layers is not None else 30
        assert layers * heads * rows * n_tokens <= CELL_BUDGET


def test_reply_offset_counts_the_pieces_after_the_prefix() -> None:
    text = pieces("Hi", " there", "\n", "Hello", "!")
    assert reply_offset(text, len("Hi there\n")) == 2
    assert reply_offset(text, 0) == 5
    assert reply_offset(text, 100) == 0


def test_plan_for_text_estimates_a_conversation_and_keeps_chosen_layers() -> None:
    reply = pieces(*(["a"] * 40 + ["b"] * 10))
    sized = plan_for_text(reply, 30, 9, n_context=1, prefix_chars=40, budget=200_000)
    assert sized.n_tokens == 50 + 2 * 6  # the template's tokens around two messages, about
    assert sized.plan == plan_attention(62, 10, 30, 9, 200_000)
    assert sized.plan.reply_only
    unknown = plan_for_text(reply, None, None)
    assert (unknown.n_layer, unknown.n_head, unknown.n_tokens) == (32, 32, 50)
    chosen = plan_for_text(pieces(*["x"] * 100), 30, 9, layers=[3, 7, 29], budget=20_000)
    assert chosen.n_layer == 3 and chosen.plan.mean_heads
    assert chosen.plan.layers is not None and set(chosen.plan.layers) <= {3, 7, 29}
    assert 29 in chosen.plan.layers  # thinning keeps the last layer, as for the whole model
    assert plan_for_text(pieces("x"), 30, 9, layers=[5]).plan.layers == [5]


def test_cli_attention_keeps_the_panels_memory_budget(
        engine: EngineClient, capsys: pytest.CaptureFixture[str]) -> None:
    n = len(engine.tokenize(LONG, special=False))
    assert 30 * 9 * n * n > CELL_BUDGET  # every head would not fit: the panel averages them
    assert plan_attention(n, 0, 30, 9) == AttentionPlan(mean_heads=True)
    args = build_parser().parse_args(["inspect", "attention", LONG])
    assert cli_inspect.show(args, engine, sys.stdout) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{n} tokens, 30 layers x heads averaged;")
    assert "parts were left out" in out[1]
    short = build_parser().parse_args(["inspect", "attention", "Hello world, hello"])
    assert cli_inspect.show(short, engine, sys.stdout) == 0
    out = capsys.readouterr().out.splitlines()
    assert "30 layers x 9 heads;" in out[0] and "parts were left out" not in out[1]
