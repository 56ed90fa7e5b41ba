"""The CLI end to end, as a person runs it: a real process, real model, real data folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.store import ChatStore

ROOT = Path(__file__).resolve().parents[1]


def glassbox(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], input=stdin,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_ask_json_prints_the_reply_and_its_numbers() -> None:
    result = glassbox("ask", "What is a token?", "--json", "--max-tokens", "24", "--seed", "1")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"text", "prompt_tokens", "completion_tokens", "ttft_s", "tokens_per_s"}
    assert data["text"].strip()
    assert data["prompt_tokens"] > 5 and 0 < data["completion_tokens"] <= 24
    assert data["ttft_s"] > 0 and data["tokens_per_s"] > 0


def test_ask_streams_plain_text_and_reads_stdin() -> None:
    result = glassbox("ask", "-", "--max-tokens", "12", "--seed", "2",
                      stdin="Say hello in French.")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_same_seed_same_answer_from_the_cli() -> None:
    args = ("ask", "Name a colour.", "--json", "--max-tokens", "12", "--seed", "9",
            "--temperature", "1.0")
    assert json.loads(glassbox(*args).stdout)["text"] == json.loads(glassbox(*args).stdout)["text"]


def test_bad_input_exits_nonzero_without_a_traceback(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    cases = [
        (("ask", "hi", "--model", str(tmp_path / "missing.gguf")), "not found"),
        (("ask", "hi", "--model", str(junk)), "not a GGUF"),
        (("ask", "   "), "empty"),
        (("ask", "word " * 5000, "--ctx", "512"), "too long"),
        (("ask", "hi", "--max-tokens", "0"), "at least 1"),
    ]
    for args, message in cases:
        result = glassbox(*args)
        assert result.returncode == 1, (args, result.stdout)
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_chat_loop_answers_and_saves_the_chat(glassbox_home: Path) -> None:
    result = glassbox("chat", "--max-tokens", "12", "--seed", "1",
                      stdin="Hello there\n\n/exit\n")
    assert result.returncode == 0, result.stderr
    assert "assistant> " in result.stdout
    store = ChatStore(glassbox_home / "glassbox.sqlite3")
    try:
        (chat,) = store.list_chats()
        assert chat.title == "Hello there"
        assert [m.role for m in store.messages(chat.id)] == ["user", "assistant"]
    finally:
        store.close()


def test_compare_a_few_shot_preset_a_plain_prompt_and_a_temperature_as_json(
        glassbox_home: Path) -> None:
    result = glassbox("compare", "The cake was dry.", "--preset", "Sentiment labels", "--plain",
                      "--also-temperature", "1.4", "--max-tokens", "8", "--seed", "4", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = data["variants"]
    assert [v["label"] for v in rows] == ["Sentiment labels", "Plain",
                                         "Sentiment labels · T=1.4"]
    assert [v["examples"] for v in rows] == [3, 0, 3]
    assert [v["temperature"] for v in rows] == [0.7, 0.7, 1.4]
    for v in rows:
        assert v["status"] == "complete" and v["text"]
        assert 0 < v["completion_tokens"] <= 8
        assert v["tokens_per_s"] > 0 or v["completion_tokens"] == 1  # a rate needs 2 tokens
    assert rows[0]["prompt_tokens"] > rows[1]["prompt_tokens"]  # the examples are in it
    with ChatStore(glassbox_home / "glassbox.sqlite3") as store:
        saved = store.comparisons.get(data["comparison_id"])
        assert [r.output for r in saved.results] == [v["text"] for v in rows]


def test_compare_refuses_bad_requests_clearly() -> None:
    cases = [
        (("compare", "hi", "--preset", "No such preset", "--plain"), "no preset called"),
        (("compare", "hi", "--plain"), "at least two variants"),
        (("compare", "hi", "--preset", "Patient tutor", "--plain", "--var", "topic"),
         "NAME=VALUE"),
        (("compare", "hi", "--plain", *["--also-temperature", "1"] * 4), "at most 4"),
    ]
    for args, message in cases:
        result = glassbox(*args)
        assert result.returncode == 1, (args, result.stdout)
        assert message in result.stderr and "Traceback" not in result.stderr


def test_chat_export_and_import_round_trip(glassbox_home: Path, tmp_path: Path) -> None:
    with ChatStore(glassbox_home / "glassbox.sqlite3") as store:
        chat = store.create_chat("Exported", system_prompt="Be brief.")
        q = store.add_message(chat.id, "user", "Name a fruit.")
        store.add_message(chat.id, "assistant", "Apple.")
        store.add_message(chat.id, "assistant", "Pear.", parent_id=q.id)
    out = tmp_path / "chat.json"
    assert glassbox("chat", "export", str(chat.id), "-o", str(out)).returncode == 0
    result = glassbox("chat", "import", str(out))
    assert result.returncode == 0, result.stderr
    assert "Imported “Exported”" in result.stdout
    markdown = glassbox("chat", "export", str(chat.id), "--format", "md").stdout
    assert "### Assistant (alternative 2 of 2)\n\nPear." in markdown
    with ChatStore(glassbox_home / "glassbox.sqlite3") as store:
        copy = max(c.id for c in store.list_chats())
        assert copy != chat.id
        assert [m.content for m in store.all_messages(copy)] == ["Name a fruit.", "Apple.",
                                                                  "Pear."]
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something-else"}', encoding="utf-8")
    result = glassbox("chat", "import", str(bad))
    assert result.returncode == 1 and "not a Glassbox chat export" in result.stderr


def test_compare_two_presets_side_by_side_as_json(glassbox_home: Path) -> None:
    result = glassbox("compare", "Why is the sky blue?", "--preset", "Patient tutor",
                      "--var", "topic=physics", "--preset", "Explain like I'm five",
                      "--max-tokens", "8", "--seed", "2", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["variants"]
    assert [v["label"] for v in rows] == ["Patient tutor", "Explain like I'm five"]
    assert all(v["status"] == "complete" and v["text"] for v in rows)
    assert rows[0]["prompt_tokens"] != rows[1]["prompt_tokens"]  # two different system prompts


def test_inspect_anatomy_of_a_named_model_file(tmp_path: Path) -> None:
    from core.models.bundled import default_chat_model

    result = glassbox("inspect", "anatomy", str(default_chat_model()), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["n_layer"] == 30 and len(data["tensors"]) == 272
    missing = glassbox("inspect", "anatomy", str(tmp_path / "nope.gguf"), "--json")
    assert missing.returncode == 1 and "nope.gguf" in missing.stderr
    assert "Traceback" not in missing.stderr
