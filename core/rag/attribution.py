"""Which passage backs which sentence of an answer, by the words they share.

Small local models seldom write [n] themselves, even when asked. So after a grounded reply,
each sentence is matched to the passage holding most of its content words; a sentence whose
words come mostly from one passage is marked as supported by it. This says "these words came
from there", not that the claim is true: the Sources pane shows both, and the reader judges.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MIN_WORDS = 3  # shorter sentences ("Yes.", "In short:") match anything
MIN_OVERLAP = 0.6  # share of a sentence's content words that must appear in the passage

# Function words carry no evidence of where a sentence came from.
_STOP_WORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers him his how i if in into is it its itself just me more
most my no nor not now of off on once only or other our out over own same she should so some
such than that the their them then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your
""".split())
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CITED = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]")


@dataclass(frozen=True)
class Attribution:
    """Sentence `answer[start:end]` shares `overlap` of its content words with passage
    `number`."""

    start: int
    end: int
    number: int
    overlap: float


def content_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text))
            if w not in _STOP_WORDS and (len(w) > 2 or w.isdigit())}


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences and lines of `text`, without the whitespace."""
    spans = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def attribute(answer: str, passages: Sequence[tuple[int, str]]) -> list[Attribution]:
    """For each sentence of `answer` that the model did not cite itself, the numbered passage
    (number, text) it shares most content words with, if that is at least MIN_OVERLAP."""
    vocabularies = [(number, content_words(text)) for number, text in passages]
    found = []
    for start, end in sentences(answer):
        sentence = answer[start:end]
        if _CITED.search(sentence):
            continue
        words = content_words(sentence)
        if len(words) < MIN_WORDS:
            continue
        best, overlap = None, 0.0
        for number, vocabulary in vocabularies:
            share = len(words & vocabulary) / len(words)
            if share > overlap:
                best, overlap = number, share
        if best is not None and overlap >= MIN_OVERLAP:
            found.append(Attribution(start, end, best, round(overlap, 3)))
    return found
