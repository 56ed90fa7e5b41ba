"""OpenAI-compatible endpoints: /v1/models, /v1/chat/completions, /v1/completions,
/v1/embeddings. Streams are server-sent events, as OpenAI's clients read them."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from core.engine.completion_types import (
    CompletionDone,
    CompletionPiece,
    CompletionRequest,
    TokenLogprob,
)
from core.engine.types import ChatMessage
from core.server import completions as shared
from core.server import grounded, tools
from core.server.app import glassbox_state
from core.server.errors import ApiError
from core.server.schemas import (
    ChatCompletionRequest,
    CompletionRequestBody,
    EmbeddingRequest,
    Message,
)
from core.server.streaming import EventStream

router = APIRouter()


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    return {"object": "list", "data": [_model_card(state)]}


@router.get("/v1/models/{name:path}")
async def get_model(name: str, request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    shared.check_model(state, name)
    return _model_card(state)


def _model_card(state: Any) -> dict[str, Any]:
    return {"id": state.pool.name, "object": "model", "created": int(state.started),
            "owned_by": "glassbox"}


# -- chat ------------------------------------------------------------------------------------
def message_text(message: Message) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    kinds = {part.type for part in content}
    if kinds - {"text"}:
        raise ApiError(400, f"This model reads text only; the message holds {sorted(kinds)}.",
                       param="messages")
    return "".join(part.text or "" for part in content)


def chat_messages(messages: list[Message]) -> tuple[ChatMessage, ...]:
    """OpenAI's roles in the three a chat template knows: a developer message is a system
    message; a tool's result is shown to the model as a user turn that says whose it is."""
    out: list[ChatMessage] = []
    for message in messages:
        text = message_text(message)
        if message.role in ("system", "developer"):
            out.append(ChatMessage("system", text))
        elif message.role == "assistant":
            if message.tool_calls:
                text = (text + "\n" if text else "") + tools.call_text(message.tool_calls)
            out.append(ChatMessage("assistant", text))
        elif message.role in ("tool", "function"):
            who = message.name or message.tool_call_id or "the tool"
            out.append(ChatMessage("user", f"Result from {who}:\n{text}"))
        else:
            out.append(ChatMessage("user", text))
    return tuple(out)


def chat_request(state: Any, body: ChatCompletionRequest,
                 plan: tools.ToolPlan | None = None) -> CompletionRequest:
    shared.check_model(state, body.model)
    shared.check_n(body.n)
    if body.top_logprobs is not None and not body.logprobs:
        raise ApiError(400, "top_logprobs needs logprobs set to true.", param="top_logprobs")
    asked = body.max_completion_tokens if body.max_completion_tokens is not None \
        else body.max_tokens
    param = "max_completion_tokens" if body.max_completion_tokens is not None else "max_tokens"
    sampling = shared.sampling_for(state, max_tokens=asked, temperature=body.temperature,
                                   top_p=body.top_p, seed=body.seed, param=param,
                                   top_k=body.top_k, min_p=body.min_p,
                                   repeat_penalty=body.repeat_penalty)
    grammar = None
    if body.response_format is not None and body.response_format.type == "json_object":
        grammar = shared.json_grammar()
    elif body.response_format is not None and body.response_format.type == "json_schema":
        spec = body.response_format.json_schema or {}
        grammar = shared.schema_grammar(spec.get("schema"), "response_format.json_schema")
    messages = chat_messages(body.messages)
    if plan is not None:
        if grammar is not None:
            raise ApiError(400, "response_format and tools cannot be used together: a tool "
                           "call is already JSON.", param="response_format")
        grammar = plan.grammar
        messages = tools.with_instructions(messages, plan)
    return CompletionRequest(
        messages=messages, sampling=sampling,
        stop=shared.stops_for(body.stop), presence_penalty=body.presence_penalty,
        frequency_penalty=body.frequency_penalty,
        logprobs=shared.top_logprobs_for(body.top_logprobs, "top_logprobs")
        if body.logprobs else None,
        grammar=grammar)


def _chat_logprobs(tokens: tuple[TokenLogprob, ...]) -> dict[str, Any]:
    return {"content": [
        {"token": t.token, "logprob": t.logprob, "bytes": list(t.bytes),
         "top_logprobs": [{"token": a.token, "logprob": a.logprob, "bytes": list(a.bytes)}
                          for a in t.top]}
        for t in tokens]}


def _usage(done: CompletionDone) -> dict[str, int]:
    return {"prompt_tokens": done.prompt_tokens, "completion_tokens": done.completion_tokens,
            "total_tokens": done.prompt_tokens + done.completion_tokens}


def _finish(done: CompletionDone) -> str:
    return "length" if done.finish_reason == "length" else "stop"


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest,
                           request: Request) -> JSONResponse | StreamingResponse:
    state = glassbox_state(request)
    plan = tools.plan_for(body.tools, body.tool_choice)
    completion = chat_request(state, body, plan)
    grounding = None
    if body.collections is not None:  # Glassbox's own: answer from these collections
        completion, grounding = await grounded.ground_request(state, completion,
                                                              body.collections)
    record = shared.record_of(request)
    if record is not None:
        record.stream = body.stream
        record.messages = [m.model_dump(exclude_none=True) for m in body.messages]
    reply_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    events = await shared.started(shared.run(state, completion, record))
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = _chat_chunks(events, reply_id, state.pool.name, usage, body.logprobs, plan)
        return _sse(chunks if grounding is None else grounded.with_citations(chunks, grounding),
                    events)
    pieces, done = await shared.collect(events, request)
    message: dict[str, Any] = {"role": "assistant", "content": done.text, "refusal": None}
    finish = _finish(done)
    call = tools.parse_call(done.text) if plan is not None else None
    if call is not None:
        message.update(content=None, tool_calls=[call])
        finish = "tool_calls"
    extra = {} if grounding is None else {"glassbox": await grounded.judged(grounding, done.text)}
    return JSONResponse({
        **extra, "id": reply_id, "object": "chat.completion", "created": int(time.time()),
        "model": state.pool.name, "system_fingerprint": None,
        "choices": [{"index": 0, "message": message,
                     "logprobs": _chat_logprobs(tuple(pieces)) if body.logprobs else None,
                     "finish_reason": finish}],
        "usage": _usage(done)})


async def _chat_chunks(events: AsyncIterator[Any], reply_id: str, model: str,
                       include_usage: bool, logprobs: bool,
                       plan: tools.ToolPlan | None = None) -> AsyncIterator[dict[str, Any]]:
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None,
              tokens: tuple[TokenLogprob, ...] = ()) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish,
                                  "logprobs": _chat_logprobs(tokens) if logprobs and tokens
                                  else None}
        return {"id": reply_id, "object": "chat.completion.chunk", "created": created,
                "model": model, "system_fingerprint": None, "choices": [choice]}

    # With tools, text is held until its first character says call or answer; a call is
    # sent whole once it is complete (its arguments must parse).
    held, held_tokens = "", ()  # type: tuple[str, tuple[TokenLogprob, ...]]
    calling: bool | None = None if plan is not None else False
    yield chunk({"role": "assistant", "content": ""})
    async for event in events:
        if isinstance(event, CompletionPiece):
            if calling is False:
                if event.text or event.logprobs:
                    yield chunk({"content": event.text}, tokens=event.logprobs)
                continue
            held, held_tokens = held + event.text, held_tokens + event.logprobs
            if calling is None and held.strip():
                calling = tools.looks_like_call(held)
                if not calling:
                    yield chunk({"content": held}, tokens=held_tokens)
                    held, held_tokens = "", ()
        else:
            finish = _finish(event)
            call = tools.parse_call(event.text) if calling else None
            if call is not None:
                yield chunk({"tool_calls": [{"index": 0, **call}]}, tokens=held_tokens)
                finish = "tool_calls"
            elif held:  # a call cut off by max_tokens: the text as it came
                yield chunk({"content": held}, tokens=held_tokens)
            yield chunk({}, finish)
            if include_usage:
                yield {"id": reply_id, "object": "chat.completion.chunk", "created": created,
                       "model": model, "choices": [], "usage": _usage(event)}


def _sse(chunks: AsyncIterator[dict[str, Any]],
         events: AsyncGenerator[Any, None]) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        try:
            async for item in chunks:
                yield b"data: " + json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n\n"
        except ApiError as exc:  # headers are sent: the error travels as an event
            yield b"data: " + json.dumps({"error": {"message": exc.message,
                                                    "type": "invalid_request_error",
                                                    "code": exc.code}}).encode() + b"\n\n"
        except Exception as exc:
            yield b"data: " + json.dumps({"error": {"message": str(exc),
                                                    "type": "server_error"}}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return EventStream(lines(), events, media_type="text/event-stream",
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- text completions ------------------------------------------------------------------------
@router.post("/v1/completions", response_model=None)
async def completions(body: CompletionRequestBody,
                      request: Request) -> JSONResponse | StreamingResponse:
    state = glassbox_state(request)
    shared.check_model(state, body.model)
    shared.check_n(body.n)
    if not isinstance(body.prompt, str):
        if len(body.prompt) != 1 or not isinstance(body.prompt[0], str):
            raise ApiError(400, "prompt must be one string (batches and token lists are not "
                           "supported).", param="prompt")
        prompt = body.prompt[0]
    else:
        prompt = body.prompt
    sampling = shared.sampling_for(state, max_tokens=body.max_tokens,
                                   temperature=body.temperature, top_p=body.top_p,
                                   seed=body.seed, top_k=body.top_k, min_p=body.min_p,
                                   repeat_penalty=body.repeat_penalty)
    logprobs = shared.top_logprobs_for(body.logprobs, "logprobs") \
        if body.logprobs is not None else None
    completion = CompletionRequest(prompt=prompt, sampling=sampling,
                                   stop=shared.stops_for(body.stop),
                                   presence_penalty=body.presence_penalty,
                                   frequency_penalty=body.frequency_penalty,
                                   logprobs=logprobs, echo=body.echo)
    record = shared.record_of(request)
    if record is not None:
        record.stream = body.stream
        record.messages = [{"role": "prompt", "content": prompt}]
    reply_id = f"cmpl-{uuid.uuid4().hex[:24]}"
    events = await shared.started(shared.run(state, completion, record))
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return _sse(_text_chunks(events, reply_id, state.pool.name, usage, body.echo, prompt,
                                 logprobs is not None), events)
    tokens, done = await shared.collect(events, request)
    text = (prompt + done.text) if body.echo else done.text
    scored = (list(done.echo) + tokens) if body.echo else tokens
    return JSONResponse({
        "id": reply_id, "object": "text_completion", "created": int(time.time()),
        "model": state.pool.name,
        "choices": [{"index": 0, "text": text, "finish_reason": _finish(done),
                     "logprobs": _text_logprobs(scored) if logprobs is not None else None}],
        "usage": _usage(done)})


def _text_logprobs(tokens: list[TokenLogprob]) -> dict[str, Any]:
    """The legacy shape: parallel lists, alternatives as {token: logprob} maps."""
    offsets, at = [], 0
    for t in tokens:
        offsets.append(at)
        at += len(t.token)
    return {"tokens": [t.token for t in tokens],
            "token_logprobs": [t.logprob for t in tokens],
            "top_logprobs": [{a.token: a.logprob for a in t.top} if t.logprob is not None
                             else None for t in tokens],
            "text_offset": offsets}


async def _text_chunks(events: AsyncIterator[Any], reply_id: str, model: str,
                       include_usage: bool, echo: bool, prompt: str,
                       logprobs: bool) -> AsyncIterator[dict[str, Any]]:
    created = int(time.time())

    def chunk(text: str, finish: str | None, tokens: list[TokenLogprob]) -> dict[str, Any]:
        return {"id": reply_id, "object": "text_completion", "created": created,
                "model": model, "choices": [{
                    "index": 0, "text": text, "finish_reason": finish,
                    "logprobs": _text_logprobs(tokens) if logprobs else None}]}

    if echo and not logprobs:
        yield chunk(prompt, None, [])
    async for event in events:
        if isinstance(event, CompletionPiece):
            yield chunk(event.text, None, list(event.logprobs))
        else:
            if echo and logprobs:  # the prompt's scores are known only now
                yield chunk(prompt, None, list(event.echo))
            yield chunk("", _finish(event), [])
            if include_usage:
                yield {"id": reply_id, "object": "text_completion", "created": created,
                       "model": model, "choices": [], "usage": _usage(event)}


# -- embeddings ------------------------------------------------------------------------------
@router.post("/v1/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    texts = _embedding_inputs(body.input)
    if body.dimensions is not None and body.dimensions != 384:
        raise ApiError(400, "The embedding model (all-MiniLM-L6-v2) makes 384 dimensions.",
                       param="dimensions")
    vectors = await state.embed(texts)
    data = []
    for i, vector in enumerate(vectors):
        as_float = np.asarray(vector, dtype=np.float32)
        value: Any = (base64.b64encode(as_float.tobytes()).decode("ascii")
                      if body.encoding_format == "base64" else as_float.tolist())
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(len(t.split()) for t in texts)  # an estimate: MiniLM's word pieces differ
    return {"object": "list", "data": data, "model": body.model or "all-MiniLM-L6-v2",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


_MAX_EMBED_INPUTS = 2048


def _embedding_inputs(value: Any) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "input must be a string or a list of strings (token lists are "
                       "not supported).", param="input")
    if len(texts) > _MAX_EMBED_INPUTS:
        raise ApiError(400, f"input holds {len(texts):,} texts; at most {_MAX_EMBED_INPUTS:,} "
                       "per request.", param="input")
    if any(not t for t in texts):
        raise ApiError(400, "input must not contain empty strings.", param="input")
    return list(texts)
