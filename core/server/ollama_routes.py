"""Ollama-compatible endpoints (/api/...), for clients that speak only Ollama (Open WebUI,
editor plugins, the `ollama` Python package).

Ollama streams by default: newline-delimited JSON (application/x-ndjson), one object per piece
of text, the last with `done: true`, why it stopped and the counts and durations (nanoseconds);
`"stream": false` answers one object. Its `options` map onto the same sampling the OpenAI
endpoints use (core/server/completions.py), `format` ("json" or a JSON schema) onto a grammar.
Errors are Ollama's `{"error": "..."}` (core/server/errors.py does that for every /api path).

The model list holds the served chat model and the bundled embedding model (all-minilm), as
Ollama lists embedding models beside chat models.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from core.engine.completion_types import (
    CompletionDone,
    CompletionEvent,
    CompletionPiece,
    CompletionRequest,
    TokenLogprob,
)
from core.engine.types import ChatMessage
from core.server import completions as shared
from core.server.app import glassbox_state
from core.server.errors import ApiError
from core.server.schemas import (
    OllamaChatRequest,
    OllamaEmbeddingsRequest,
    OllamaEmbedRequest,
    OllamaGenerateRequest,
    OllamaMessage,
    OllamaRun,
    OllamaShowRequest,
)
from core.server.state import ServerState
from core.server.streaming import EventStream

router = APIRouter()

OLLAMA_API_VERSION = "0.6.0"  # the Ollama API these endpoints follow; clients check it
EMBEDDING_MODEL = "all-minilm"  # Ollama's name for all-MiniLM-L6-v2
_MAX_STOPS = 16
_NS = 1_000_000_000


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _bare(name: str | None) -> str:
    """Ollama names carry a tag ("llama3:latest"); ":latest" is what no tag means."""
    name = (name or "").strip()
    return name[: -len(":latest")] if name.lower().endswith(":latest") else name


def _is_embedding_model(name: str | None) -> bool:
    bare = _bare(name).lower()
    return bare in (EMBEDDING_MODEL, "all-minilm-l6-v2", "all-minilm:l6-v2")


def _check_model(state: ServerState, name: str | None) -> None:
    if not (name or "").strip():
        raise ApiError(400, "model is required.", param="model")
    shared.check_model(state, _bare(name))


# -- models ----------------------------------------------------------------------------------
def _model_facts(path: str) -> dict[str, Any]:
    """The GGUF header's facts and chat template (blocking: reads the file's header)."""
    from core.gguf.reader import read_header
    from core.models.metadata import facts_from_header

    header = read_header(path)
    facts = facts_from_header(Path(path), header.metadata, header.parameter_count,
                              header.actual_size)
    return {"facts": facts, "template": str(header.metadata.get("tokenizer.chat_template") or ""),
            "metadata": header.metadata}


def _digest(path: Path) -> str:
    # Identifies this file version (path, size, time) without hashing gigabytes per request.
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()


def _details(facts: Any) -> dict[str, Any]:
    from core.models.metadata import format_parameters

    return {"parent_model": "", "format": "gguf", "family": facts.architecture,
            "families": [facts.architecture],
            "parameter_size": format_parameters(facts.parameter_count),
            "quantization_level": facts.quantization}


def _chat_card(state: ServerState, facts: Any) -> dict[str, Any]:
    assert state.pool.info is not None
    path = Path(state.pool.info.path)
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
    return {"name": state.pool.name, "model": state.pool.name, "modified_at": modified,
            "size": path.stat().st_size, "digest": _digest(path), "details": _details(facts)}


def _embedding_card() -> dict[str, Any]:
    return {"name": EMBEDDING_MODEL, "model": EMBEDDING_MODEL,
            "modified_at": datetime.fromtimestamp(0, UTC).isoformat(), "size": 0,
            "digest": hashlib.sha256(b"all-MiniLM-L6-v2").hexdigest(),
            "details": {"parent_model": "", "format": "safetensors", "family": "bert",
                        "families": ["bert"], "parameter_size": "23M",
                        "quantization_level": "F32"}}


async def _served_facts(state: ServerState) -> dict[str, Any]:
    assert state.pool.info is not None
    return await asyncio.to_thread(_model_facts, state.pool.info.path)


@router.get("/api/version")
async def version() -> dict[str, Any]:
    return {"version": OLLAMA_API_VERSION}


@router.get("/api/tags")
async def tags(request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    facts = (await _served_facts(state))["facts"]
    return {"models": [_chat_card(state, facts), _embedding_card()]}


@router.get("/api/ps")
async def running(request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    assert state.pool.info is not None
    card = _chat_card(state, (await _served_facts(state))["facts"])
    # Loaded until the server stops: no keep-alive expiry, so a far date as Ollama gives.
    return {"models": [{**card, "expires_at": "2318-01-01T00:00:00Z", "size_vram": 0,
                        "context_length": state.pool.info.n_ctx}]}


@router.post("/api/show")
async def show(body: OllamaShowRequest, request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    name = body.model or body.name or ""
    if _is_embedding_model(name):
        card = _embedding_card()
        return {"modelfile": "", "parameters": "", "template": "",
                "details": card["details"], "capabilities": ["embedding"],
                "model_info": {"general.architecture": "bert",
                               "bert.embedding_length": 384},
                "modified_at": card["modified_at"]}
    _check_model(state, name)
    assert state.pool.info is not None
    found = await _served_facts(state)
    facts = found["facts"]
    sampling = shared.base_sampling()
    parameters = "\n".join(f"{key:<16}{value}" for key, value in (
        ("temperature", sampling.temperature), ("top_k", sampling.top_k),
        ("top_p", sampling.top_p), ("min_p", sampling.min_p),
        ("repeat_penalty", sampling.repeat_penalty), ("num_predict", sampling.max_tokens),
        ("num_ctx", state.pool.info.n_ctx)))
    info = {key: value for key, value in found["metadata"].items()
            if isinstance(value, str | int | float | bool) and not key.startswith("tokenizer.")}
    info["general.parameter_count"] = facts.parameter_count
    return {"modelfile": f"# Served by Glassbox\nFROM {state.pool.info.path}\n",
            "parameters": parameters, "template": found["template"],
            "license": facts.license or "", "details": _details(facts), "model_info": info,
            "capabilities": ["completion"],
            "modified_at": _chat_card(state, facts)["modified_at"]}


# -- completions -----------------------------------------------------------------------------
def _format_grammar(value: str | dict[str, Any] | None) -> str | None:
    if value is None or value == "":
        return None
    if value == "json":
        return shared.json_grammar()
    if isinstance(value, dict):
        return shared.schema_grammar(value, "format")
    raise ApiError(400, f'format must be "json" or a JSON schema object (got {value!r}).',
                   param="format")


def _completion(state: ServerState, body: OllamaRun, *, prompt: str = "",
                messages: tuple[ChatMessage, ...] = ()) -> CompletionRequest:
    """The engine request for an Ollama body: its options, format and log-probabilities."""
    options = body.options
    asked = options.num_predict if options is not None else None
    if asked is not None and asked < 0:  # -1: no limit; -2: fill the window. Ours is the cap.
        asked = state.config.max_tokens
    sampling = shared.sampling_for(
        state, max_tokens=asked, param="options.num_predict",
        temperature=options.temperature if options else None,
        top_p=options.top_p if options else None,
        seed=options.seed if options else None,
        top_k=options.top_k if options else None)
    if options is not None and options.repeat_penalty is not None:
        sampling = replace(sampling, repeat_penalty=options.repeat_penalty)
    stops = tuple(s for s in (options.stop or []) if s) if options else ()
    if len(stops) > _MAX_STOPS:
        raise ApiError(400, f"options.stop takes at most {_MAX_STOPS} sequences.",
                       param="options.stop")
    logprobs = None
    if body.logprobs:
        logprobs = shared.top_logprobs_for(body.top_logprobs, "top_logprobs")
    return CompletionRequest(
        prompt=prompt, messages=messages, sampling=sampling, stop=stops,
        presence_penalty=(options.presence_penalty or 0.0) if options else 0.0,
        frequency_penalty=(options.frequency_penalty or 0.0) if options else 0.0,
        logprobs=logprobs, grammar=_format_grammar(body.format))


def _chat_messages(messages: list[OllamaMessage]) -> tuple[ChatMessage, ...]:
    out = []
    for message in messages:
        if message.images:
            raise ApiError(400, "This model reads text only; a message holds images.",
                           param="messages")
        if message.role == "tool":  # as the OpenAI route shows a tool's result
            who = message.tool_name or "the tool"
            out.append(ChatMessage("user", f"Result from {who}:\n{message.content}"))
        elif message.role == "assistant" and message.tool_calls:
            calls = json.dumps([c.get("function", c) for c in message.tool_calls])
            out.append(ChatMessage("assistant", (message.content + "\n" + calls).strip()))
        else:
            out.append(ChatMessage(message.role, message.content))
    return tuple(out)


def _logprobs(tokens: tuple[TokenLogprob, ...]) -> list[dict[str, Any]]:
    return [{"token": t.token, "logprob": t.logprob if t.logprob is not None else 0.0,
             "bytes": list(t.bytes),
             "top_logprobs": [{"token": a.token, "logprob": a.logprob, "bytes": list(a.bytes)}
                              for a in t.top]}
            for t in tokens]


def _done_fields(done: CompletionDone, started: float) -> dict[str, Any]:
    total = time.perf_counter() - started
    return {"done": True,
            "done_reason": "length" if done.finish_reason == "length" else "stop",
            "total_duration": int(total * _NS), "load_duration": 0,
            "prompt_eval_count": done.prompt_tokens,
            "prompt_eval_duration": int(done.ttft_s * _NS),
            "eval_count": done.completion_tokens,
            "eval_duration": int(max(0.0, done.total_s - done.ttft_s) * _NS)}


def _piece(kind: str, text: str) -> dict[str, Any]:
    return {"message": {"role": "assistant", "content": text}} if kind == "chat" \
        else {"response": text}


async def _answer(state: ServerState, request: Request, body: OllamaRun,
                  completion: CompletionRequest, kind: str) -> JSONResponse | StreamingResponse:
    """Run the completion; one object, or a stream of them ending with `done: true`."""
    started = time.perf_counter()
    record = shared.record_of(request)
    if record is not None:
        record.stream = body.stream
    events = await shared.started(shared.run(state, completion, record))
    model = state.pool.name
    if not body.stream:
        tokens: list[TokenLogprob] = []
        done: CompletionDone | None = None
        async for event in events:
            if isinstance(event, CompletionPiece):
                tokens.extend(event.logprobs)
            else:
                done = event
        assert done is not None
        reply = {"model": model, "created_at": _now(), **_piece(kind, done.text),
                 **_done_fields(done, started)}
        if body.logprobs:
            reply["logprobs"] = _logprobs(tuple(tokens))
        return JSONResponse(reply)
    return EventStream(_lines(events, model, kind, body.logprobs, started), events,
                       media_type="application/x-ndjson")


async def _lines(events: AsyncIterator[CompletionEvent], model: str, kind: str,
                 logprobs: bool, started: float) -> AsyncIterator[bytes]:
    def line(item: dict[str, Any]) -> bytes:
        return json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n"

    try:
        async for event in events:
            if isinstance(event, CompletionPiece):
                if not event.text and not event.logprobs:
                    continue
                item = {"model": model, "created_at": _now(), **_piece(kind, event.text),
                        "done": False}
                if logprobs:
                    item["logprobs"] = _logprobs(event.logprobs)
                yield line(item)
            else:
                yield line({"model": model, "created_at": _now(), **_piece(kind, ""),
                            **_done_fields(event, started)})
    except ApiError as exc:  # headers are sent: the error travels as a line (Ollama's way)
        yield line({"error": exc.message})
    except Exception as exc:
        yield line({"error": f"The server failed: {exc}"})


def _loaded(state: ServerState, kind: str) -> dict[str, Any]:
    """Ollama's answer to an empty prompt: the model is loaded (here it always is)."""
    return {"model": state.pool.name, "created_at": _now(), **_piece(kind, ""), "done": True,
            "done_reason": "load"}


@router.post("/api/chat", response_model=None)
async def chat(body: OllamaChatRequest, request: Request) -> JSONResponse | StreamingResponse:
    state = glassbox_state(request)
    _check_model(state, body.model)
    if body.tools:
        raise ApiError(400, "tools are served on /v1/chat/completions; /api/chat takes "
                       "none.", param="tools")
    record = shared.record_of(request)
    if record is not None:
        record.messages = [m.model_dump(exclude_none=True) for m in body.messages]
    if not body.messages:
        return JSONResponse(_loaded(state, "chat"))
    completion = _completion(state, body, messages=_chat_messages(body.messages))
    return await _answer(state, request, body, completion, "chat")


@router.post("/api/generate", response_model=None)
async def generate(body: OllamaGenerateRequest,
                   request: Request) -> JSONResponse | StreamingResponse:
    state = glassbox_state(request)
    _check_model(state, body.model)
    if body.images:
        raise ApiError(400, "This model reads text only; the request holds images.",
                       param="images")
    if body.suffix:
        raise ApiError(400, "suffix (fill-in-the-middle) is not supported.", param="suffix")
    if body.template:
        raise ApiError(400, "template is not supported: the model's own chat template is "
                       "used (send raw: true to write the whole prompt yourself).",
                       param="template")
    if not body.prompt:
        return JSONResponse(_loaded(state, "generate"))
    record = shared.record_of(request)
    if body.raw:
        completion = _completion(state, body, prompt=body.prompt)
        if record is not None:
            record.messages = [{"role": "prompt", "content": body.prompt}]
    else:
        messages = ([ChatMessage("system", body.system)] if body.system else []) + \
            [ChatMessage("user", body.prompt)]
        completion = _completion(state, body, messages=tuple(messages))
        if record is not None:
            record.messages = [{"role": m.role, "content": m.content} for m in messages]
    return await _answer(state, request, body, completion, "generate")


# -- embeddings ------------------------------------------------------------------------------
def _check_embedding_model(state: ServerState, name: str) -> None:
    # The one embedding model answers whatever the client calls it, as long as it names
    # this model or the served one (clients often reuse the chat model's name).
    if name and not _is_embedding_model(name) and not state.pool.accepts(_bare(name)):
        raise ApiError(404, f"The model {name!r} is not served here; embeddings come from "
                       f"{EMBEDDING_MODEL!r}.")


@router.post("/api/embed")
async def embed(body: OllamaEmbedRequest, request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    _check_embedding_model(state, body.model)
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts or any(not t for t in texts):
        raise ApiError(400, "input must be a non-empty string or a list of them.",
                       param="input")
    if body.dimensions is not None and body.dimensions != 384:
        raise ApiError(400, "The embedding model (all-MiniLM-L6-v2) makes 384 dimensions.",
                       param="dimensions")
    started = time.perf_counter()
    vectors = await state.embed(texts)
    return {"model": body.model or EMBEDDING_MODEL,
            "embeddings": [[float(x) for x in v] for v in vectors],
            "total_duration": int((time.perf_counter() - started) * _NS), "load_duration": 0,
            "prompt_eval_count": sum(len(t.split()) for t in texts)}  # words: an estimate


@router.post("/api/embeddings")
async def embeddings(body: OllamaEmbeddingsRequest, request: Request) -> dict[str, Any]:
    """The older, one-text form of /api/embed."""
    state = glassbox_state(request)
    _check_embedding_model(state, body.model)
    if not body.prompt:
        raise ApiError(400, "prompt must not be empty.", param="prompt")
    vector = (await state.embed([body.prompt]))[0]
    return {"embedding": [float(x) for x in vector]}
