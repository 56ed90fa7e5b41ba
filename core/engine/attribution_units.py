"""Splitting a prompt into the units occlusion removes: tokens, words, sentences or passages.

A unit is always a run of whole tokens, so removing it means cutting that run out of the token
list (see attribution.py for why). The unit's text is those tokens' own text, so the units'
texts concatenate back to exactly the prompt the model reads. Words and sentences are found in
the text, then each token goes to the word, sentence or passage its first visible character
falls in (" Berlin" goes where "B" is); so a token such as ".\\n" that spans a sentence end
stays whole, in the sentence it starts.
Special tokens of the chat template (<|im_start|> and the like) are units of their own that are
never removed: cutting them measures the template, not the prompt.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.engine.attribution_types import AttributionUnit, Granularity, LabeledSpan
from core.errors import AttributionError

# A word or a run of punctuation, with the whitespace before it (byte-level BPE tokens carry
# their leading space: " word").
_WORD = re.compile(r"\s*(?:\w+|[^\w\s]+)", re.UNICODE)
# A sentence ends after . ! ? (and closing quotes or brackets) followed by whitespace, or at a
# line break; the whitespace goes to the sentence after it.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")


@dataclass(frozen=True)
class Segment:
    start: int
    end: int
    scored: bool = True
    label: str = ""


def token_char_spans(pieces: Sequence[bytes]) -> tuple[str, list[tuple[int, int]]]:
    """The text of the token pieces joined, and each token's character span in it.

    A token that ends inside a multi-byte character owns that character; the token that
    finishes it gets an empty span (it is merged into the unit before it)."""
    joined = b"".join(pieces)
    try:
        text = joined.decode("utf-8")
    except UnicodeDecodeError:
        # Not valid UTF-8 as a whole (a tokenizer that is not byte-exact): each piece decoded
        # alone, so the spans still cover the text.
        parts = [p.decode("utf-8", errors="replace") for p in pieces]
        spans, at = [], 0
        for part in parts:
            spans.append((at, at + len(part)))
            at += len(part)
        return "".join(parts), spans
    # starts[k]: the byte offset where character k begins.
    starts, offset = [], 0
    for char in text:
        starts.append(offset)
        offset += len(char.encode("utf-8"))
    spans, at = [], 0
    for piece in pieces:
        end = at + len(piece)
        # Characters that begin before a byte offset: rounds a cut inside a character up.
        spans.append((bisect.bisect_left(starts, at), bisect.bisect_left(starts, end)))
        at = end
    return text, spans


def segments(text: str, by: Granularity, spans: Sequence[LabeledSpan] = ()) -> list[Segment]:
    """Character segments covering `text` end to end, for words, sentences or passages (the
    parts between passages are segments that are not removed). Tokens need none."""
    if by == "passage":
        return _passage_segments(text, spans)
    pattern = _WORD if by == "word" else _SENTENCE_BREAK
    starts = {0}
    if by == "word":
        starts.update(m.start() for m in pattern.finditer(text))
    else:
        starts.update(m.start() for m in pattern.finditer(text) if m.start() > 0)
    ordered = sorted(s for s in starts if s < len(text)) or [0]
    bounds = [*ordered, len(text)]
    return [Segment(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a] or \
        [Segment(0, len(text))]


def _passage_segments(text: str, spans: Sequence[LabeledSpan]) -> list[Segment]:
    if not spans:
        raise AttributionError("Attribution by passage needs the passages' places in the "
                               "prompt: give a grounded answer, or spans, or choose token, "
                               "word or sentence.")
    ordered = sorted(spans, key=lambda s: s.start)
    out: list[Segment] = []
    at = 0
    for span in ordered:
        if not 0 <= span.start < span.end <= len(text):
            raise AttributionError(f"Passage {span.label or ''} at characters {span.start}–"
                                   f"{span.end} is not inside the prompt ({len(text):,} "
                                   "characters).".replace("Passage  at", "A passage at"))
        if span.start < at:
            raise AttributionError(f"Passages {span.label!r} and the one before it overlap: "
                                   "each part of the prompt can be removed only once.")
        if span.start > at:
            out.append(Segment(at, span.start, scored=False))
        out.append(Segment(span.start, span.end, scored=True, label=span.label))
        at = span.end
    if at < len(text):
        out.append(Segment(at, len(text), scored=False))
    return out


def plan_units(text: str, char_spans: Sequence[tuple[int, int]], special: Sequence[bool],
               by: Granularity, spans: Sequence[LabeledSpan] = ()) -> list[AttributionUnit]:
    """Group the prompt's tokens into units (see the module docstring)."""
    segs = None if by == "token" else segments(text, by, spans)
    seg_starts = [s.start for s in segs] if segs else []
    groups: list[tuple[int, int, Segment | None, bool]] = []  # token range, segment, special
    for i, ((start, end), is_special) in enumerate(zip(char_spans, special, strict=True)):
        # A token belongs where its first visible character is: " Berlin" goes with the
        # passage or word that starts at "B", not with the space before it.
        key = start + (len(text[start:end]) - len(text[start:end].lstrip())
                       if text[start:end].strip() else 0)
        seg = segs[max(0, bisect.bisect_right(seg_starts, key) - 1)] if segs else None
        if groups:
            a, _, prev_seg, prev_special = groups[-1]
            continues = (not is_special and not prev_special and
                         (end == start or (segs is not None and seg is prev_seg)))
            if continues:  # same word/sentence/passage, or the tail of a split character
                groups[-1] = (a, i + 1, prev_seg, prev_special)
                continue
        groups.append((i, i + 1, seg, is_special))
    units = []
    for index, (a, b, seg, is_special) in enumerate(groups):
        start, end = char_spans[a][0], char_spans[b - 1][1]
        scored = not is_special and (seg is None or seg.scored) and end > start
        units.append(AttributionUnit(index, text[start:end], start, end, a, b, scored,
                                     label=seg.label if seg else ""))
    return units


def reply_sentences(text: str, char_spans: Sequence[tuple[int, int]]) -> list[tuple[int, int,
                                                                                      int, int]]:
    """The reply's sentences as (char start, char end, token start, token end); every reply
    token belongs to exactly one (the one its first character falls in)."""
    segs = segments(text, "sentence") if text else [Segment(0, 0)]
    starts = [s.start for s in segs]
    owner = [max(0, bisect.bisect_right(starts, start) - 1) for start, _ in char_spans]
    out = []
    for k, seg in enumerate(segs):
        tokens = [i for i, o in enumerate(owner) if o == k]
        if tokens:
            out.append((seg.start, seg.end, tokens[0], tokens[-1] + 1))
    return out
