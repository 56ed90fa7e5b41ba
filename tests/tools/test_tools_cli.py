"""`glassbox ask --tools`: a real process, the bundled model, the calculator forced by
--tool-choice; --yes --json for scripts, and confirmation on the terminal (stdin)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from core.tools.builtins import calculate

ROOT = Path(__file__).resolve().parents[2]
GREEDY = ("--temperature", "0", "--seed", "3", "--max-tokens", "40")
# A path is at most 100 characters (the tool's schema): room for the call around it.
GREEDY_LONGER = ("--temperature", "0", "--seed", "3", "--max-tokens", "96")


def glassbox(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], input=stdin,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_yes_and_json_carry_each_step() -> None:
    result = glassbox("ask", "Use the calculator: what is 6 * 7?", "--tools", "calculator",
                      "--tool-choice", "calculator", "--max-steps", "1", "--yes", "--json",
                      *GREEDY)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["tools"] == ["calculator"] and data["protocol"] == "generic"
    first, last = data["steps"]
    assert first["call"]["name"] == "calculator" and first["decision"] == "allow_once"
    expression = first["call"]["arguments"]["expression"]
    try:
        expected = str(calculate(expression))
    except Exception as exc:  # noqa: BLE001 - a refused expression is reported, not raised
        expected = f"Error: {exc}"
    assert first["result"]["text"] == expected
    assert "call" not in last and data["text"] == last["output"]
    assert data["stop"] == "step_limit" and "step limit (1 tool call)" in data["error"]


def test_the_terminal_asks_and_a_denial_is_told_to_the_model(tmp_path: Path) -> None:
    (tmp_path / "plan.txt").write_text("Launch on Friday.", encoding="utf-8")
    result = glassbox("ask", "Read plan.txt and tell me when we launch.", "--tools",
                      "files,datetime", "--allow-folder", str(tmp_path), "--tool-choice",
                      "read_file", "--max-steps", "1", *GREEDY_LONGER, stdin="maybe\nd\n")
    assert result.returncode == 0, result.stderr
    assert "The model wants to call read_file (builtin) with {\"path\": " in result.stderr
    # "maybe" is not an answer: asked again, then denied.
    assert result.stderr.count("Allow [o]nce, [a]lways for this tool, or [d]eny?") == 2
    assert "  denied\n← The user denied the call of read_file." in result.stderr
    assert "The step limit (1 tool call) was reached" in result.stderr


def test_the_terminal_allows_once_and_the_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "plan.txt").write_text("Launch on Friday.", encoding="utf-8")
    result = glassbox("ask", "What does plan.txt say?", "--tools", "files", "--allow-folder",
                      str(tmp_path), "--tool-choice", "read_file", "--max-steps", "1", "--json",
                      *GREEDY_LONGER, stdin="o\n")
    assert result.returncode == 0, result.stderr
    (step, _) = json.loads(result.stdout)["steps"]
    path = step["call"]["arguments"]["path"]
    if (tmp_path / path).resolve() == (tmp_path / "plan.txt").resolve():
        assert step["result"] == {**step["result"], "ok": True, "text": "Launch on Friday."}
    else:  # the model named another file: refused or missing, with a reason
        assert not step["result"]["ok"] and step["result"]["error"]


def test_bad_tool_options_fail_before_the_model_loads() -> None:
    for args, says in ((("--tools", "shell"), "no built-in tool 'shell'"),
                       (("--tools", "files"), "--tools files needs --allow-folder"),
                       (("--tools", "docs"), "--tools docs needs --collection"),
                       (("--tools", "calculator", "--max-steps", "0"), "--max-steps"),
                       (("--tools", "calculator", "--tool-choice", "shell"),
                        "tool_choice 'shell' is not")):
        result = glassbox("ask", "hi", *args)
        assert result.returncode != 0 and says in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
