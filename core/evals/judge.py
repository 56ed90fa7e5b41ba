"""LLM-as-judge: another model grades a reply on a rubric it is shown, in a fixed format.

The rubric and the exact prompt are part of the result, so a reader sees what the judge was
asked. The verdict is parsed from two lines, "Reasoning: ..." and "Score: N"; anything else is
recorded as unparsed (with the raw text), never guessed at. Any engine with `generate` can
judge: the local engine client or a remote one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.engine.types import ChatMessage, DoneEvent, SamplingSettings

DEFAULT_RUBRIC = (
    "Score 1: wrong, off-topic or empty.\n"
    "Score 2: partly right but with a clear error or a missing key point.\n"
    "Score 3: correct and complete but wordy or unclear.\n"
    "Score 4: correct, complete and clear."
)
SCALE = (1, 4)
_SCORE = re.compile(r"^\s*\**score\s*[:=]\**\s*(\d+)\s*(?:/\s*\d+)?\s*$", re.I | re.M)
_REASONING = re.compile(r"^\s*\**reasoning\s*[:=]\**\s*(.+?)(?=^\s*\**score|\Z)",
                        re.I | re.M | re.S)


@dataclass(frozen=True)
class Verdict:
    parsed: bool
    score: int | None  # on SCALE
    reasoning: str
    raw: str
    prompt: str  # what the judge was sent (rubric included)

    @property
    def normalised(self) -> float | None:
        """The score mapped to 0-1."""
        if self.score is None:
            return None
        low, high = SCALE
        return (self.score - low) / (high - low)

    def to_json(self) -> dict[str, Any]:
        return {"parsed": self.parsed, "score": self.score, "reasoning": self.reasoning,
                "raw": self.raw}


def judge_prompt(question: str, reply: str, references: Sequence[str] = (),
                 rubric: str = DEFAULT_RUBRIC) -> str:
    reference = ("\nReference answer(s):\n" + "\n".join(f"- {r}" for r in references)
                 if references else "")
    low, high = SCALE
    return (f"You are grading an answer to a question.\n\nRubric:\n{rubric}\n\n"
            f"Question:\n{question}\n{reference}\n\nAnswer to grade:\n{reply}\n\n"
            f"Reply in exactly this format and nothing else:\n"
            f"Reasoning: <one or two sentences>\nScore: <a whole number from {low} to {high}>")


def parse_verdict(raw: str, prompt: str = "") -> Verdict:
    """The judge's verdict, or an unparsed one when the format was not followed (no score
    line, several disagreeing ones, or a score off the scale)."""
    scores = {int(m) for m in _SCORE.findall(raw)}
    reasoning = _REASONING.search(raw)
    low, high = SCALE
    if len(scores) != 1 or not low <= next(iter(scores)) <= high:
        return Verdict(False, None, reasoning.group(1).strip() if reasoning else "", raw, prompt)
    return Verdict(True, scores.pop(), reasoning.group(1).strip() if reasoning else "", raw,
                   prompt)


def judge(engine: Any, question: str, reply: str, references: Sequence[str] = (),
          rubric: str = DEFAULT_RUBRIC, max_tokens: int = 160) -> Verdict:
    """Ask `engine` (anything with `generate(messages, sampling)`) for a verdict, greedily."""
    prompt = judge_prompt(question, reply, references, rubric)
    text = ""
    for event in engine.generate([ChatMessage("user", prompt)],
                                 SamplingSettings(temperature=0.0, seed=0,
                                                  max_tokens=max_tokens)):
        if isinstance(event, DoneEvent):
            text = event.text
    return parse_verdict(text, prompt)
