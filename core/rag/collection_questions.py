"""Questions about a whole collection: "which of my files talk about X", "how many documents
mention Y", "summarize each file", "what documents do I have".

Top-k passages cannot answer these: the answer is spread over every document, and a model
asked to count snippets counts wrong. Such a question is recognised by its wording, and the
model is then given one entry per document instead of passages: the document's title, its
section headings and its opening lines, all made when the document was indexed, and, for a
topic, how many of its passages mention it. Counts are taken from the index itself (FTS5), so
"how many" is exact and the model only has to say it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["which", "count", "summarize", "list"]

# Nouns a user calls the items of a collection. "Which files contain X?" alone is as often
# about the subject (which files of a Git repository...) as about the collection, so "files"
# and "pages" count only with an owner ("my files", "these pages", "of the files").
_DOCS = r"(?:files?|documents?|docs|pdfs?|notes|papers|pages|sources)"
_OWNED = (r"(?:(?:of\s+)?(?:my|these|those|all(?:\s+(?:of\s+)?(?:my|the))?|the|"
          r"this\s+collection'?s?)\s+)")
_OURS = rf"(?:{_OWNED}{_DOCS}|(?:documents?|docs|pdfs?|notes|papers|sources))"
_VERBS = (r"(?:mention|mentions|talk\s+about|talks\s+about|discuss|discusses|cover|covers|"
          r"contain|contains|explain|explains|describe|describes|refer\s+to|refers\s+to|"
          r"deal\s+with|deals\s+with|say\s+anything\s+about|says\s+anything\s+about|"
          r"are\s+about|is\s+about|have\s+anything\s+(?:about|on))")
_TOPIC = r"(?P<topic>.+?)"
_END = r"\s*[?.!]*\s*$"

_RAW_PATTERNS: tuple[tuple[Kind, str], ...] = (
    ("count", rf"\bhow\s+many\s+{_OURS}\b.*?\b{_VERBS}\s+{_TOPIC}{_END}"),
    ("count", rf"\bin\s+how\s+many\s+{_OURS}\b.*?\b(?:is|are|does|do)\s+{_TOPIC}\s+"
              rf"(?:mentioned|discussed|covered|explained|described){_END}"),
    ("which", rf"\b(?:which|what)\s+{_OURS}\b.*?\b{_VERBS}\s+{_TOPIC}{_END}"),
    ("which", rf"\b(?:list|find|show)(?:\s+me)?\s+(?:all\s+)?{_OURS}\s+"
              rf"(?:that|which|about|on|mentioning|discussing|covering)\s+"
              rf"(?:{_VERBS}\s+)?{_TOPIC}{_END}"),
    ("which", rf"\bwhere\s+in\s+{_OURS}\b.*?\b(?:is|are)\s+{_TOPIC}\s+"
              rf"(?:mentioned|discussed|covered|explained|described){_END}"),
    ("summarize", rf"\bsummar(?:ize|ise|y\s+of)\s+(?:each|every|all|all\s+of)\s+"
                  rf"{_OWNED}?{_DOCS}"),
    ("summarize", rf"\b(?:summar(?:ize|ise)|(?:an\s+)?overview\s+of)\s+(?:my|this|these)\s+"
                  rf"(?:collection|{_DOCS})\b"),
    ("summarize", rf"\bwhat\s+(?:is|are)\s+(?:each|every)\s+(?:one|{_DOCS})\b.*\babout"),
    ("list", rf"\b(?:what|which)\s+{_DOCS}\s+(?:do\s+i\s+have|are\s+in\s+(?:my|this|the)\s+"
             r"collection)"),
    ("list", rf"\blist\s+(?:all\s+)?{_OWNED}{_DOCS}{_END}"),
    ("list", r"\bwhat(?:'s|\s+is)\s+in\s+(?:my|this|the)\s+collection"),
)
# Characters of a document's opening kept beside its summary.
SUMMARY_LEAD = 120

_PATTERNS = tuple((kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _RAW_PATTERNS)


@dataclass(frozen=True)
class CollectionQuestion:
    kind: Kind
    topic: str | None  # what "which" and "count" look for; None for the others


def collection_question(text: str) -> CollectionQuestion | None:
    """The question's kind when it is about the collection as a whole, else None (a passage
    question, answered by top-k retrieval as usual)."""
    question = " ".join(text.split())
    if not question or len(question) > 400:  # a pasted page is not a question about files
        return None
    for kind, pattern in _PATTERNS:
        found = pattern.search(question)
        if found is None:
            continue
        topic = _clean_topic(found.groupdict().get("topic"))
        if kind in ("which", "count") and not topic:
            continue
        return CollectionQuestion(kind, topic if kind in ("which", "count") else None)
    return None


def _clean_topic(topic: str | None) -> str | None:
    if topic is None:
        return None
    topic = topic.strip(" \t\"'“”‘’?.!,")
    # "the word X" and "the topic of X" name X.
    topic = re.sub(r"^(?:the\s+)?(?:word|term|phrase|topic|subject)\s+(?:of\s+)?", "", topic,
                   flags=re.IGNORECASE).strip(" \"'“”‘’")
    return topic or None


@dataclass(frozen=True)
class DocumentCard:
    """One document as the model sees it in a whole-collection answer."""

    document_id: int
    collection: str
    path: str
    title: str
    headings: tuple[str, ...]
    lead: str  # the document's opening lines
    chunks: int
    pages: int | None  # for paged formats (PDF)
    first_chunk_id: int
    matches: int | None = None  # passages that mention the topic (None: no topic)
    relevance: float = 0.0  # how well the document answers the topic (0 without one)
    summary: str | None = None  # written by the chat model (core/rag/summaries.py), if any

    def text(self, topic: str | None) -> str:
        """The entry's text: short, so that many documents fit the window."""
        lines = [f"Title: {self.title}"]
        size = f"{self.chunks} passage{'s' if self.chunks != 1 else ''}"
        if self.pages:
            size += f", {self.pages} page{'s' if self.pages != 1 else ''}"
        lines.append(f"Size: {size}")
        if self.headings:
            lines.append("Sections: " + "; ".join(self.headings))
        if topic is not None and self.matches is not None:
            lines.append(f"Passages mentioning \"{topic}\": {self.matches}")
        if self.summary:
            lines.append(f"Summary: {self.summary}")
        if self.lead:
            # Beside a summary the opening only adds its wording: a shorter one keeps the
            # entry short, so as many documents fit the window as before.
            lead = lead_text(self.lead, SUMMARY_LEAD) if self.summary else self.lead
            lines.append(f"Begins: {lead}")
        return "\n".join(lines)


def lead_text(text: str, limit: int = 240) -> str:
    """The first sentences of `text`, cut at a word within `limit` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    if end >= limit // 2:
        return cut[:end + 1]
    return cut[:cut.rfind(" ")].rstrip(",;:") + "…" if " " in cut else cut + "…"


def collection_instructions(question: CollectionQuestion, listed: int, total: int,
                            mentioning: int | None) -> str:
    """What the model is told before the document entries: what they are, how many, and the
    counts it must not work out for itself."""
    if total == 0:
        return "The collection has no indexed documents yet. Say so."
    numbered = (f"numbered [1] to [{listed}]" if listed > 1 else "numbered [1]")
    whole = (f"The collection has {total} document{'s' if total != 1 else ''}. "
             f"Below are {listed} of them, one entry each, {numbered}, with their titles, "
             f"sections and opening lines.")
    if listed == total:
        whole = whole.replace(f"Below are {listed} of them", "All are listed below" if
                              total > 1 else "It is listed below")
    if question.kind == "count" and mentioning is not None:
        facts = (f" Counted in the index: {mentioning} of the {total} documents mention "
                 f"\"{question.topic}\". Give that number; do not count the entries yourself.")
    elif question.kind == "which" and mentioning is not None:
        facts = (f" {mentioning} of the {total} documents mention \"{question.topic}\" word for "
                 f"word; the entries are the most relevant first.")
    else:
        facts = ""
    ask = {"count": "Answer with the number, then name the documents.",
           "which": "Name the documents that are about it, each with its number, like [2].",
           "summarize": "Describe each document in a sentence, each with its number, like [2].",
           "list": "List the documents by title, each with its number, like [2]."}[question.kind]
    return f"{whole}{facts} {ask} Cite only the numbers given."


def fts_phrase(topic: str) -> str | None:
    """An FTS5 phrase query for `topic` (its words in order), or None if it has no word."""
    words = re.findall(r"\w+", topic)
    return '"' + " ".join(words) + '"' if words else None


def rank_documents(cards: Sequence[DocumentCard]) -> list[DocumentCard]:
    """Most relevant first (then those mentioning the topic most, then by path)."""
    return sorted(cards, key=lambda c: (-c.relevance, -(c.matches or 0), c.path))
