"""Plain data for scoring several continuations of one prompt (multiple choice, evaluation).

Apart from the computation (introspect.py) so callers can import it without numpy or llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContinuationScore:
    """How likely the model found `text` right after the shared prompt."""

    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[float, ...]  # natural log, one a token, given the prompt and those before

    @property
    def total(self) -> float:
        """The log-likelihood of the whole continuation (what lm-evaluation-harness ranks by)."""
        return float(sum(self.logprobs))

    @property
    def n_tokens(self) -> int:
        return len(self.token_ids)


@dataclass(frozen=True)
class ContinuationScores:
    prompt_tokens: int
    choices: tuple[ContinuationScore, ...]
    reused_prompt: bool  # the prompt was decoded once and its KV cache kept across choices
    seconds: float
