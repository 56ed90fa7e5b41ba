"""Summaries of a collection's documents, written by the chat model (issue 17, item 3).

A question about the collection as a whole ("summarize each file", "which of my files talk
about X") is answered from one entry per document (core/rag/collection_questions.py). Titles,
headings and opening lines say little about what a document is for; a few sentences from the
chat model, written once after indexing, say more. The work is slow (one generation per
document), so it runs as an event iterator with a cancel token, stores each summary as soon as
it is written, and a later run goes on with the documents still missing one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.errors import EngineCrashed, GlassboxError, NoModelLoaded
from core.rag.chunk import document_title
from core.rag.collection_questions import lead_text
from core.rag.summary_types import SummaryProgress

if TYPE_CHECKING:
    from core.engine.client import EngineClient
    from core.rag.index_store import DocumentInfo
    from core.rag.library import CancelToken, DocumentLibrary

# Document text shown to the model: at most this many tokens of its first chunks (a summary of
# the opening is what a small model can do well, and long prompts make every document slow),
# fewer when the context is small. PROMPT_OVERHEAD covers the instructions and the template.
TEXT_TOKENS = 768
PROMPT_OVERHEAD = 160
FIRST_CHUNKS = 8
# A stored summary is cut at a sentence within this many characters.
SUMMARY_CHARS = 400

_SYSTEM = "You summarize documents briefly and factually."
_ASK = ("In 2 or 3 sentences, say what this document is about. Write only the summary, "
        "without a heading.")
_LABEL = re.compile(r"^(?:\*\*)?(?:summary|this summary)\s*:?(?:\*\*)?\s*:?\s*", re.IGNORECASE)


def summarize_events(library: DocumentLibrary, collection: str, engine: EngineClient,
                     cancel: CancelToken | None = None,
                     max_tokens: int = 80) -> Iterator[SummaryProgress]:
    """Write a summary for each indexed document of `collection` that has none, or whose
    summary was made from content it no longer has, one event per document.

    `engine` is a started engine with the chat model loaded (the caller owns it). Generation
    is greedy and at most `max_tokens` long. Each summary is stored as soon as it is written;
    when `cancel` is set (checked between documents, and while the model writes, which stops
    the generation) the last event is 'cancelled' and the next run goes on with the rest;
    `engine.cancel()` from another thread stops it the same way. The library's connection
    is its thread's: run this where the library was opened (a worker's own library).
    A document the model cannot summarize gets a 'failed' event and the run goes on; the
    engine dying ends the run with EngineCrashed. Raises UnknownCollection, NoModelLoaded.
    """
    info = library.collection(collection)
    model = engine.model
    if model is None:
        raise NoModelLoaded("Load a chat model before summarizing documents: it writes them.")
    model_name = Path(model.path).name
    pending = library.documents_needing_summary(info.name)
    started = time.monotonic()
    done = stored = 0

    def event(stage: str, document: DocumentInfo | None = None, summary: str | None = None,
              error: str | None = None) -> SummaryProgress:
        elapsed = time.monotonic() - started
        eta = elapsed * (len(pending) - done) / done if done else None
        return SummaryProgress(stage, done, len(pending), document.path if document else None,
                               summary, error, elapsed, eta)

    yield event("started")
    budget = _text_budget(model.n_ctx, max_tokens)
    for document in pending:
        if cancel is not None and cancel.is_set():
            yield event("cancelled")
            return
        try:
            # A child that died between documents would be restarted with no model by the
            # next request, and every document would then fail one by one: stop here instead.
            if not getattr(engine, "alive", True) or engine.model is None:
                raise EngineCrashed("The model engine is no longer running.")
            text = _first_text(library, engine, document, budget)
            reply, stopped = _generate(engine, _messages(document, text), max_tokens, cancel)
        except (EngineCrashed, NoModelLoaded) as exc:
            kept = "the summary" if stored == 1 else f"the {stored} summaries"
            raise EngineCrashed(
                f"The model engine stopped while summarizing {document.path}; {kept} written "
                f"before it {'is' if stored == 1 else 'are'} kept, and running again goes on "
                f"from there. {exc}") from exc
        except GlassboxError as exc:
            done += 1
            yield event("failed", document, error=str(exc))
            continue
        if stopped:  # cancelled mid-way: a half summary is not stored
            yield event("cancelled")
            return
        summary = clean_summary(reply)
        done += 1
        if not summary:
            yield event("failed", document, error="the model wrote no summary")
            continue
        assert document.content_hash is not None  # indexed documents have one
        library.store.set_summary(document.id, document.content_hash, model_name, summary)
        stored += 1
        yield event("summarized", document, summary)
    yield event("finished")


def clean_summary(text: str) -> str:
    """The model's reply as a stored summary: one paragraph, no label, cut at a sentence."""
    flat = _LABEL.sub("", " ".join(text.split()))
    return lead_text(flat, SUMMARY_CHARS).strip()


def _text_budget(n_ctx: int, max_tokens: int) -> int:
    """Tokens of document text that fit with the instructions and the reply."""
    return max(32, min(TEXT_TOKENS, n_ctx - max_tokens - PROMPT_OVERHEAD))


def _first_text(library: DocumentLibrary, engine: EngineClient, document: DocumentInfo,
                budget: int) -> str:
    """The document's opening chunks, cut to `budget` tokens of the model's tokenizer."""
    text = "\n\n".join(library.store.first_texts(document.id, FIRST_CHUNKS))
    text = text[:budget * 6]  # no tokenizer makes a token of more than ~6 characters of prose
    for _ in range(4):
        used = engine.count_tokens(text)
        if used <= budget:
            return text
        text = text[:int(len(text) * budget / used * 0.95)]
    return text


def _messages(document: DocumentInfo, text: str) -> list[ChatMessage]:
    title = document_title(document.path)
    return [ChatMessage("system", _SYSTEM),
            ChatMessage("user", f"Document: {title}\n\n{text}\n\n{_ASK}")]


def _generate(engine: EngineClient, messages: list[ChatMessage], max_tokens: int,
              cancel: CancelToken | None) -> tuple[str, bool]:
    """(the reply, whether it was cancelled). A set `cancel` stops the engine mid-reply. A
    reply that ended on its own before the engine saw the stop counts as cancelled too: what
    happens after Cancel must not depend on how fast the child was."""
    greedy = SamplingSettings(temperature=0.0, seed=0, max_tokens=max_tokens)
    reply, stopped, asked = "", False, False
    for piece in engine.generate(messages, greedy):
        if isinstance(piece, DoneEvent):
            reply, stopped = piece.text, piece.finish_reason == "cancelled"
        elif cancel is not None and cancel.is_set() and not asked:
            engine.cancel()  # the child stops at its next token and ends the reply
            asked = True
    return reply, stopped or asked
