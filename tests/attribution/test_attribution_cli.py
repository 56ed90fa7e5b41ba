"""`glassbox inspect attribution`: the real parser, the real engine child, the real model."""

from __future__ import annotations

import io
import json

import pytest

from core.cli import main


def glassbox(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["inspect", "attribution", *args, "--ctx", "512"], out, err)
    return status, out.getvalue(), err.getvalue()


def test_json_lists_every_unit_with_its_score() -> None:
    prompt = "Paris is in France. The capital of France is"
    status, out, err = glassbox(prompt, "--reply", " Paris.", "--by", "word", "--raw",
                                "--json")
    assert status == 0, err
    assert "tokens to decode" in err  # the estimate, before the work
    data = json.loads(out)
    assert data["by"] == "word" and data["reply"] == " Paris."
    assert "".join(u["text"] for u in data["units"]) == data["prompt"] == prompt
    scored = [u for u in data["units"] if u["scored"]]
    assert len(scored) == 10 and all(isinstance(u["score"], float) for u in scored)
    ranked = [data["units"][i]["score"] for i in data["ranked"]]
    assert ranked == sorted(ranked, reverse=True)
    assert data["decoded_tokens"] == data["estimate"]["decode_tokens"]


def test_without_a_reply_the_models_own_is_explained() -> None:
    status, out, err = glassbox("Name a colour.", "--by", "sentence", "--max-tokens", "6")
    assert status == 0, err
    assert out.startswith("reply: ") and "strongest of" in out
    assert "<|im_start|>" not in out.splitlines()[0]


@pytest.mark.parametrize("args, message", [
    (("", "--reply", "x"), "prompt is empty"),
    (("Hello there friend", "--reply", "x", "--by", "passage", "--raw"), "passages"),
    (("Hello there friend", "--reply", "x", "--by", "passage", "--raw", "--span", "a:b"),
     "START:END"),
])
def test_bad_input_is_one_clear_line(args: tuple[str, ...], message: str) -> None:
    status, out, err = glassbox(*args)
    assert status == 1 and not out
    assert err.startswith("glassbox: error:") and message in err
