"""Which passage backs which sentence of an answer, by the words they share.

Small local models seldom write [n] themselves, even when asked. So after a grounded reply,
each sentence is matched to the passage holding most of its content words; a sentence whose
words come mostly from one passage is marked as supported by it. This says "these words came
from there", not that the claim is true: the Sources pane shows both, and the reader judges.

A sentence that only restates the question shares its words with the passages too (the search
found them by those words), so it proves nothing: a sentence counts as backed by a passage only
when the passage also holds a word of it that the question does not. "When was the lighthouse
first lit?" echoed back is backed by nothing; "It was first lit in 1882." is, by the passage
that says 1882.
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


_CODE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[ \t]*$|\Z)|`[^`\n]*`",
                   re.MULTILINE | re.DOTALL)


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


def prose(text: str) -> str:
    """`text` with fenced and inline code blanked out (same length, so offsets still hold):
    a [3] inside code is an index, not a citation, and code is not a claim to back."""
    return _CODE.sub(lambda m: " " * len(m.group(0)), text)


def _backing(words: set[str], asked: set[str],
             vocabularies: Sequence[tuple[int, set[str]]]) -> tuple[int, float] | None:
    """The passage (number, share of `words` it holds) that backs a sentence with these content
    words, or None: it must hold MIN_OVERLAP of them, and one that the question does not."""
    new = words - asked
    best: tuple[int, float] | None = None
    for number, vocabulary in vocabularies:
        share = len(words & vocabulary) / len(words)
        if share >= MIN_OVERLAP and new & vocabulary and (best is None or share > best[1]):
            best = (number, share)
    return best


def attribute(answer: str, passages: Sequence[tuple[int, str]],
              question: str = "") -> list[Attribution]:
    """For each sentence of `answer` that the model did not cite itself, the numbered passage
    (number, text) that backs it (see the module docstring), if one does. Sentences that only
    restate `question` are never matched."""
    vocabularies = [(number, content_words(text)) for number, text in passages]
    asked = content_words(question)
    text = prose(answer)
    found = []
    for start, end in sentences(text):
        sentence = text[start:end]
        if _CITED.search(sentence):
            continue
        words = content_words(sentence)
        if len(words) < MIN_WORDS:
            continue
        best = _backing(words, asked, vocabularies)
        if best is not None:
            found.append(Attribution(start, end, best[0], round(best[1], 3)))
    return found


def is_backed(answer: str, passages: Sequence[tuple[int, str]], question: str = "") -> bool:
    """Whether any sentence of `answer` is backed by a passage, whatever it cites: a sentence
    the model cited counts only if the words are really there. Short sentences count too
    ("Zubrowka [1]."): here one word the question lacks, found in a passage, is enough."""
    vocabularies = [(number, content_words(text)) for number, text in passages]
    asked = content_words(question)
    text = _CITED.sub(" ", prose(answer))
    for start, end in sentences(text):
        words = content_words(text[start:end])
        if words and _backing(words, asked, vocabularies) is not None:
            return True
    return False
