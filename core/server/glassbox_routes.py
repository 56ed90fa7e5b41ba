"""Glassbox's own endpoints: what no other server offers a builder.

- `POST /v1/chat/completions` with `"collections": ["name", ...]` (an extra body field; with
  the OpenAI client, `extra_body={"collections": [...]}`): the answer is grounded in those
  document collections exactly as `glassbox ask --collection NAME --json` grounds it, and the
  response carries `"glassbox": {"citations": [...], "invalid_citations": [...], "backed": ...,
  "collections": [...], "left_out": n}`; each citation has number, path, page, heading, score,
  text, cited and quotes. A stream sends them in one last chunk (no choices) before [DONE].
  An unknown collection answers 404. (The route is in openai_routes.py; grounded.py does it.)
- `GET /v1/glassbox/collections`: the collections with their document and passage counts.
- `POST /v1/glassbox/search` `{"query", "collections"?, "top_k"?}`: ranked passages (file,
  page, heading, text, fused score and the dense and keyword scores behind it).
- `POST /v1/glassbox/surprise` `{"text", "context"?, "top"?}`: how surprised the model is by
  each token of `text` (its log-probability and the tokens it expected instead) and the
  perplexity; with `context` (chat messages) the text is scored as the reply to them. Without
  context nothing predicts the first token: it is listed with `logprob: null`.
- `GET /v1/glassbox/requests` (recent requests, newest first, without prompts and replies) and
  `GET /v1/glassbox/requests/{id}` (one request in full: the messages as sent, the exact prompt
  the model read after its chat template, and the reply).
- `GET /health`: the model, engines and queue.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from core.server import grounded
from core.server.app import glassbox_state
from core.server.errors import ApiError
from core.server.request_log import RequestRecord
from core.server.schemas import SearchRequest, SurpriseRequest

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    return {"status": "ok", "model": state.pool.name, "engines": state.pool.parallel,
            "waiting": state.pool.waiting}


# -- collections -----------------------------------------------------------------------------
def _collections() -> list[dict[str, Any]]:
    with grounded.open_library() as library:
        return [{"name": c.name, "documents": c.documents, "indexed": c.indexed,
                 "failed": c.failed, "pending": c.pending, "chunks": c.chunks,
                 "created_at": c.created_at} for c in library.list_collections()]


@router.get("/v1/glassbox/collections")
async def collections() -> dict[str, Any]:
    return {"object": "list", "data": await asyncio.to_thread(_collections)}


def _search(query: str, names: list[str] | None, top_k: int) -> list[dict[str, Any]]:
    with grounded.open_library() as library:
        if names is None:
            names = [c.name for c in library.list_collections()]
        grounded.check_collections(library, names)
        if not names:
            return []
        hits = library.search(query, names, top_k=top_k)
    return [{"rank": h.rank, "collection": h.collection, "path": h.path,
             "file": Path(h.path).name, "page": h.page, "heading": h.heading, "text": h.text,
             "score": h.score, "vector_score": h.vector_score, "bm25_score": h.bm25_score}
            for h in hits]


@router.post("/v1/glassbox/search")
async def search(body: SearchRequest) -> dict[str, Any]:
    if not body.query.strip():
        raise ApiError(400, "query must not be blank.", param="query")
    names = list(dict.fromkeys(body.collections)) if body.collections is not None else None
    hits = await asyncio.to_thread(_search, body.query, names, body.top_k)
    return {"object": "list", "query": body.query, "data": hits}


# -- surprise --------------------------------------------------------------------------------
@router.post("/v1/glassbox/surprise")
async def surprise(body: SurpriseRequest, request: Request) -> dict[str, Any]:
    from core.server import completions as shared
    from core.server.openai_routes import chat_messages

    state = glassbox_state(request)
    shared.check_model(state, body.model)
    context = chat_messages(body.context) if body.context else None
    view = await state.pool.call(lambda engine: engine.surprise(body.text, body.top,
                                                               context=context))
    tokens = [{"id": t.id, "token": t.piece, "logprob": t.logprob,
               "top": [{"id": c.id, "token": c.piece, "prob": c.prob,
                        "logprob": math.log(c.prob) if c.prob > 0 else None}
                       for c in t.top]}
              for t in view.tokens]
    scored = "".join(t.piece for t in view.tokens)
    if scored != body.text and body.text.endswith(scored):
        # Nothing comes before a text's first token, so nothing predicts it: it is listed
        # unscored (as OpenAI's echo does), so the tokens still spell the whole text.
        tokens.insert(0, {"id": None, "token": body.text[:len(body.text) - len(scored)],
                          "logprob": None, "top": []})
    return {"model": state.pool.name, "perplexity": view.perplexity, "tokens": tokens}


# -- the request log -------------------------------------------------------------------------
def _summary(record: RequestRecord) -> dict[str, Any]:
    return {"id": record.id, "started": record.started, "method": record.method,
            "path": record.path, "client": record.client, "status": record.status,
            "duration_ms": record.duration_ms, "model": record.model, "stream": record.stream,
            "prompt_tokens": record.prompt_tokens,
            "completion_tokens": record.completion_tokens,
            "finish_reason": record.finish_reason, "error": record.error,
            "inspectable": record.inspectable}


@router.get("/v1/glassbox/requests")
async def requests(request: Request, limit: int = 50) -> dict[str, Any]:
    if limit < 1:
        raise ApiError(400, "limit must be at least 1.", param="limit")
    records = glassbox_state(request).log.recent()[:limit]
    return {"object": "list", "data": [_summary(r) for r in records]}


@router.get("/v1/glassbox/requests/{record_id}")
async def request_record(record_id: int, request: Request) -> dict[str, Any]:
    record = glassbox_state(request).log.get(record_id)
    if record is None:
        raise ApiError(404, f"No request {record_id} in the log (it keeps the most recent "
                       "ones; GET /v1/glassbox/requests lists them).", param="record_id")
    return {**asdict(record), "inspectable": record.inspectable}
