"""Chat with document collections over the API, grounded as `glassbox ask --collection` is.

The same functions do the work (core.rag.grounding: `searcher` to retrieve, `ground` to place
the numbered passages in the last user turn within the context window, `Grounding.citations`
to report them), so an API answer and the CLI's answer to the same question read the same
passages. Retrieval blocks (SQLite, the embedding model), so it runs on a worker thread; the
library is opened and closed on that thread because an apsw connection belongs to the thread
that made it. Measuring the prompt needs the model's tokenizer and template: that part holds an
engine of the pool briefly, with the passages already found.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.engine.completion_types import CompletionRequest
from core.server.errors import ApiError
from core.server.state import ServerState

if TYPE_CHECKING:
    from core.rag.grounding import Grounding
    from core.rag.library import DocumentLibrary
    from core.rag.retrieve import Hit


def open_library() -> DocumentLibrary:
    """The user's document library (per call: the connection must stay on one thread)."""
    from core.rag.library import DocumentLibrary

    return DocumentLibrary()


def check_collections(library: DocumentLibrary, names: Sequence[str]) -> None:
    known = {c.name for c in library.list_collections()}
    for name in names:
        if name not in known:
            listed = ", ".join(sorted(known)) or "none yet"
            raise ApiError(404, f"There is no collection named {name!r} (collections: "
                           f"{listed}; GET /v1/glassbox/collections lists them).",
                           code="collection_not_found", param="collections")


def _retrieve(question: str, names: Sequence[str], top_k: int) -> list[Hit]:
    from core.rag.grounding import searcher

    with open_library() as library:
        check_collections(library, names)
        return searcher(library)(question, list(names), top_k)


async def ground_request(state: ServerState, completion: CompletionRequest,
                         collections: Sequence[str],
                         top_k: int | None = None) -> tuple[CompletionRequest, Grounding]:
    """`completion` with its last user turn grounded in `collections`, and the Grounding that
    says which passages the model was given. Unknown collections answer 404."""
    from core.rag.grounding import DEFAULT_TOP_K, ground

    names = list(dict.fromkeys(collections))
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ApiError(400, "collections must be a list of collection names.",
                       param="collections")
    messages = completion.messages
    if not messages or messages[-1].role != "user":
        raise ApiError(400, "With collections, the last message must be the user's question.",
                       param="messages")
    k = top_k or DEFAULT_TOP_K
    hits = await asyncio.to_thread(_retrieve, messages[-1].content, names, k)
    max_tokens = completion.sampling.max_tokens

    def measure(engine: Any) -> Grounding:
        model = engine.model
        assert model is not None  # every engine of the pool has the model loaded
        return ground(messages, names, lambda *_: hits, engine, model.n_ctx, max_tokens,
                      top_k=k)

    grounding = await state.pool.call(measure)
    return replace(completion, messages=grounding.messages), grounding


def judge(grounding: Grounding, answer: str) -> dict[str, Any]:
    """What `glassbox ask --json` adds about the sources: each passage given (`cited` when
    the answer uses it), citations of passages never given, and whether the answer is backed."""
    judged = grounding.with_answer(answer)
    return {"collections": list(grounding.collections),
            "citations": judged.citations(answer),
            "invalid_citations": list(judged.invalid_citations),
            "backed": judged.backed,
            "left_out": grounding.left_out}


async def judged(grounding: Grounding, answer: str) -> dict[str, Any]:
    return await asyncio.to_thread(judge, grounding, answer)


async def with_citations(chunks: AsyncIterator[dict[str, Any]],
                         grounding: Grounding) -> AsyncIterator[dict[str, Any]]:
    """A chat stream's chunks, then one more (no choices, as the usage chunk) that carries
    the citations: they can be judged only once the whole answer is known."""
    text: list[str] = []
    last: dict[str, Any] | None = None
    async for chunk in chunks:
        for choice in chunk.get("choices", ()):
            text.append(choice.get("delta", {}).get("content") or "")
        last = chunk
        yield chunk
    if last is not None:
        yield {"id": last["id"], "object": "chat.completion.chunk",
               "created": last["created"], "model": last["model"], "choices": [],
               "glassbox": await judged(grounding, "".join(text))}
