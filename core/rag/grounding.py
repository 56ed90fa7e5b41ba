"""Grounded prompts: retrieved passages, numbered, placed in the prompt within a token budget.

The model sees the passages inside the last user turn, each under its number, told how many
there are, and is asked to cite them as [1], [2]. The stored chat keeps only what the user
typed; the passages, the exact rendered prompt and how the context window was spent travel in a
`Grounding` kept with the reply, so the Sources pane can explain any answer later, after a
restart too. Once the answer is complete, the Grounding also records what in it cannot be
trusted: citations of passages that were never given, and whether any sentence is backed by
a passage at all (small models cite [7] of six, or answer from memory and cite nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.engine.budget import fit_messages, reply_reserve
from core.engine.types import ChatMessage
from core.rag.attribution import Attribution, attribute, content_words, is_backed, prose
from core.rag.collection_questions import collection_instructions, collection_question

if TYPE_CHECKING:  # both pull in numpy; the window reads Groundings without them
    from core.rag.library import DocumentLibrary
    from core.rag.retrieve import Hit

DEFAULT_TOP_K = 6
# Passages may take at most this share of the window: the rest is for the conversation and the
# reply, so a long document never pushes the question's own context out entirely.
PASSAGE_SHARE = 0.5



def instructions(count: int) -> str:
    """What the model is told before the passages, naming how many there are: small models
    otherwise cite numbers that were never given (the prompt's other numbers, or habit)."""
    numbered = ("There is 1 passage, numbered [1]; cite only it." if count == 1 else
                f"There are {count} passages, numbered [1] to [{count}]; cite only those.")
    return ("Answer the question using the numbered passages below. " + numbered +
            " Cite every passage you use with its number in square brackets, like [1]. "
            "If the passages do not hold the answer, say so.")

SearchFn = Callable[[str, Sequence[str], int], "list[Hit]"]


class PromptMeter(Protocol):
    """What grounding needs from the engine: the model's own token count and template."""

    def count_tokens(self, text: str) -> int: ...

    def render_prompt(self, messages: Sequence[ChatMessage],
                      add_generation_prompt: bool = True) -> str: ...


@dataclass(frozen=True)
class Source:
    """One numbered passage the model was given: a citation target."""

    number: int
    path: str
    page: int | None
    heading: str | None
    text: str
    collection: str
    chunk_id: int
    score: float  # fused (reciprocal rank fusion) score
    vector_score: float | None
    bm25_score: float | None
    vector_rank: int | None
    bm25_rank: int | None
    rank: int  # rank in the fused list
    kind: str = "passage"  # or "document": a whole document's entry (a collection question)

    @classmethod
    def from_hit(cls, number: int, hit: Hit) -> Source:
        return cls(number, hit.path, hit.page, hit.heading, hit.text, hit.collection,
                   hit.chunk_id, hit.score, hit.vector_score, hit.bm25_score, hit.vector_rank,
                   hit.bm25_rank, hit.rank, hit.kind)

    @property
    def label(self) -> str:
        """"guide.pdf, page 3" or "notes.md › Setup": where the passage is, for people."""
        where = Path(self.path).name
        if self.page is not None:
            return f"{where}, page {self.page}"
        return f"{where} › {self.heading}" if self.heading else where

    def citation(self, cited: bool = False) -> dict[str, Any]:
        """The JSON shape of a citation (the fields of `docs search --json`, and more)."""
        return {"number": self.number, "path": self.path, "page": self.page,
                "heading": self.heading, "score": round(self.score, 6), "text": self.text,
                "cited": cited}


@dataclass(frozen=True)
class BudgetPart:
    name: str  # system, passages, history, question, template, reply, free
    tokens: int


@dataclass(frozen=True)
class Grounding:
    """Everything about how one reply was grounded, as plain data (JSON-able)."""

    query: str
    collections: tuple[str, ...]
    sources: tuple[Source, ...]
    left_out: int  # passages retrieved but over the budget
    messages: tuple[ChatMessage, ...]  # exactly what goes to the engine
    rendered: str  # those messages through the model's chat template
    n_ctx: int
    budget: tuple[BudgetPart, ...] = field(default=())
    dropped_turns: int = 0
    attributions: tuple[Attribution, ...] = ()  # answer sentences matched to passages
    # Judged once the answer is complete (see with_answer); None: not judged (yet).
    invalid_citations: tuple[int, ...] = ()  # numbers the answer cites that were not given
    backed: bool | None = None  # whether any sentence of the answer is backed by a passage
    # A "how many documents" question: the number the index counted and the model was given.
    counted: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grounding:
        return cls(
            query=data["query"], collections=tuple(data["collections"]),
            sources=tuple(Source(**s) for s in data["sources"]), left_out=data["left_out"],
            messages=tuple(ChatMessage(**m) for m in data["messages"]),
            rendered=data["rendered"], n_ctx=data["n_ctx"],
            budget=tuple(BudgetPart(**b) for b in data.get("budget", ())),
            dropped_turns=data.get("dropped_turns", 0),
            attributions=tuple(Attribution(**a) for a in data.get("attributions", ())),
            invalid_citations=tuple(data.get("invalid_citations", ())),
            backed=data.get("backed"), counted=data.get("counted"),
        )

    def with_answer(self, answer: str) -> Grounding:
        """This grounding judged against the complete answer: its sentences matched to the
        passages they use (never a restatement of the question), the citations of passages
        that do not exist, and whether any sentence is backed (None for an answer with no
        words to judge, such as one stopped before it began)."""
        passages = [(s.number, s.text) for s in self.sources]
        given = {s.number for s in self.sources}
        return replace(
            self, attributions=tuple(attribute(answer, passages, self.query)),
            invalid_citations=tuple(n for n in cited_numbers(answer) if n not in given),
            backed=self._backed(answer, passages))

    def _backed(self, answer: str, passages: list[tuple[int, str]]) -> bool | None:
        if not content_words(answer) and not re.search(r"\d", answer):
            return None
        if self.sources and self.sources[0].kind == "document":
            # An answer about the collection is backed when it names a listed document, cites
            # one, or gives the count the index made.
            text = answer.casefold()
            named = any(Path(s.path).name.casefold() in text or
                        Path(s.path).stem.casefold() in text for s in self.sources)
            given = {s.number for s in self.sources}
            return named or any(n in given for n in cited_numbers(answer)) or (
                self.counted is not None and re.search(rf"\b{self.counted}\b", answer)
                is not None)
        return is_backed(answer, passages, self.query) if content_words(answer) else None

    def passage_range(self) -> str:
        """"1–6", "1" or "none": the numbers the model was given, for messages."""
        numbers = [s.number for s in self.sources]
        if not numbers:
            return "none"
        return str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}–{numbers[-1]}"

    def source(self, number: int) -> Source | None:
        return next((s for s in self.sources if s.number == number), None)

    def citations(self, answer: str) -> list[dict[str, Any]]:
        """Every source given, in order: `cited` when the answer writes [n] for it or has a
        sentence drawn from it (`quotes` lists those sentences)."""
        cited = set(cited_numbers(answer))
        rows = []
        for source in self.sources:
            quotes = [answer[a.start:a.end] for a in self.attributions
                      if a.number == source.number]
            row = source.citation(source.number in cited or bool(quotes))
            row["quotes"] = quotes
            rows.append(row)
        return rows


def searcher(library: DocumentLibrary) -> SearchFn:
    """A SearchFn over the library that skips collections removed since a chat chose them, so
    an old chat still answers (from what is left) instead of failing."""

    def search(query: str, names: Sequence[str], top_k: int) -> list[Hit]:
        known = {c.name for c in library.list_collections()}
        present = [n for n in names if n in known]
        if not present:
            return []
        whole = collection_question(query)
        if whole is not None:  # about the collection: one entry per document
            return library.collection_overview(whole, present)
        return library.search(query, present, top_k=top_k)

    return search


def passage_block(source: Source) -> str:
    return f"[{source.number}] {source.label}\n{source.text.strip()}"


def grounded_question(question: str, sources: Sequence[Source],
                      header: str | None = None) -> str:
    """The last user turn as the model sees it: instructions, sources, then the question.
    `header`: other instructions than the passages' (a whole-collection question's)."""
    if not sources:
        return question
    blocks = "\n\n".join(passage_block(s) for s in sources)
    title = "Documents" if sources[0].kind == "document" else "Passages"
    return (f"{header or instructions(len(sources))}\n\n{title}:\n\n{blocks}\n\n"
            f"Question: {question}")


def _header(question: str, hits: Sequence[Hit], count: int) -> str | None:
    """The instructions for `count` document entries answering a question about the whole
    collection; None for passages."""
    whole = collection_question(question)
    if not hits or hits[0].kind != "document" or whole is None:
        return None
    total, mentioning = hits[0].collection_counts or (len(hits), None)
    summarized = any("\nSummary: " in hit.text for hit in hits[:count])
    return collection_instructions(whole, count, total, mentioning, summarized)


def ground(conversation: Sequence[ChatMessage], collections: Sequence[str], search: SearchFn,
           meter: PromptMeter, n_ctx: int, max_reply_tokens: int,
           top_k: int = DEFAULT_TOP_K) -> Grounding:
    """Retrieve passages for the conversation's last user message and build the prompt.

    Passages go in best first while they fit: within `PASSAGE_SHARE` of the window, and
    within what is left after the system prompt, the question and the reply's reserve. Older
    turns are then dropped as the engine would, so `rendered` is exactly what the model reads.
    """
    question = conversation[-1].content
    hits = search(question, list(collections), top_k) if collections else []
    sources = [Source.from_hit(n, hit) for n, hit in enumerate(hits, start=1)]
    reserve = reply_reserve(max_reply_tokens, n_ctx)

    def count(messages: Sequence[ChatMessage]) -> int:
        return meter.count_tokens(meter.render_prompt(messages))

    system = [m for m in conversation if m.role == "system"]
    bare = count([*system, ChatMessage("user", grounded_question(question, []))])
    room = min(int(n_ctx * PASSAGE_SHARE), n_ctx - reserve - bare)
    kept = _fit_sources(sources, room, meter, _header(question, hits, len(sources)))
    # Renumber so the model sees [1]..[n] with no gaps when a passage was left out.
    kept = [Source(**{**asdict(s), "number": i}) for i, s in enumerate(kept, start=1)]
    header = _header(question, hits, len(kept))
    messages = [*conversation[:-1],
                ChatMessage("user", grounded_question(question, kept, header))]
    fitted, dropped = fit_messages(messages, count, n_ctx, reserve)
    rendered = meter.render_prompt(fitted)
    budget = _budget(fitted, kept, question, rendered, meter, n_ctx, reserve)
    return Grounding(question, tuple(collections), tuple(kept), len(sources) - len(kept),
                     tuple(fitted), rendered, n_ctx, budget, dropped,
                     counted=_counted(question, hits))


def _counted(question: str, hits: Sequence[Hit]) -> int | None:
    """For a "how many documents" question, the count the index made (the header gives it)."""
    whole = collection_question(question)
    if whole is None or whole.kind != "count" or not hits or hits[0].kind != "document":
        return None
    return (hits[0].collection_counts or (0, None))[1]


def _fit_sources(sources: Sequence[Source], room: int, meter: PromptMeter,
                 header: str | None = None) -> list[Source]:
    kept: list[Source] = []
    # The instructions and the "Passages:" header cost tokens only once there is a passage.
    # Counted as if all were kept: the count's digits never cost less with fewer passages.
    used = meter.count_tokens(grounded_question("", sources, header).replace(
        "\n\n".join(passage_block(s) for s in sources), "")) if sources else 0
    for source in sources:
        cost = meter.count_tokens(passage_block(source)) + 2  # the blank line between blocks
        if used + cost > room:
            continue  # a shorter passage further down may still fit
        kept.append(source)
        used += cost
    return kept


def _budget(messages: Sequence[ChatMessage], sources: Sequence[Source], question: str,
            rendered: str, meter: PromptMeter, n_ctx: int, reserve: int) -> tuple[BudgetPart, ...]:
    """How the window was spent, in the model's tokens. Template markup is what is left over
    after the text of each part is counted."""
    total = meter.count_tokens(rendered)
    system = sum(meter.count_tokens(m.content) for m in messages if m.role == "system")
    history = sum(meter.count_tokens(m.content) for m in messages[:-1] if m.role != "system")
    asked = meter.count_tokens(question)
    passages = (meter.count_tokens(messages[-1].content) - asked) if sources else 0
    template = max(0, total - system - history - asked - passages)
    free = max(0, n_ctx - total - reserve)
    parts = [("system", system), ("passages", passages), ("history", history),
             ("question", asked), ("template", template), ("reply", reserve), ("free", free)]
    return tuple(BudgetPart(name, tokens) for name, tokens in parts)


_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def cited_numbers(answer: str) -> list[int]:
    """The source numbers an answer cites, in first-cited order: [1], [2, 3] and [1][4]
    (not inside code, where [3] is an index)."""
    seen: dict[int, None] = {}
    for group in _CITATION.findall(prose(answer)):
        for number in re.split(r"\s*[,;]\s*", group):
            seen.setdefault(int(number), None)
    return list(seen)
