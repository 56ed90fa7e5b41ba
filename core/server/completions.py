"""What the OpenAI, Ollama and Glassbox endpoints share: sampling from a request (the app's
saved settings where a field is absent), grammars for structured output, the limits, and one
way to run a completion on the pool that also fills in the request log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from core.engine.completion_types import (
    MAX_TOP_LOGPROBS,
    CompletionDone,
    CompletionEvent,
    CompletionPiece,
    CompletionRequest,
    TokenLogprob,
)
from core.engine.types import SamplingSettings
from core.server.errors import ApiError
from core.server.request_log import RequestRecord
from core.server.state import ServerState


def base_sampling() -> SamplingSettings:
    """The sampling the user chose in the app, so a client that sends no settings gets the
    replies the window would give."""
    from core.api import saved_settings

    return saved_settings().sampling


def check_model(state: ServerState, name: str | None) -> None:
    if not state.pool.accepts(name):
        raise ApiError(404, f"The model {name!r} is not served here; this server runs "
                       f"{state.pool.name!r} (GET /v1/models lists it).",
                       code="model_not_found", param="model")


def max_tokens_for(state: ServerState, asked: int | None, param: str = "max_tokens") -> int:
    limit = state.config.max_tokens
    if asked is None:
        return min(base_sampling().max_tokens, limit)
    if asked < 1:
        raise ApiError(400, f"{param} must be at least 1 (got {asked}).", param=param)
    if asked > limit:
        raise ApiError(400, f"{param} is {asked:,}; this server allows at most {limit:,}.",
                       param=param)
    return asked


def sampling_for(state: ServerState, *, max_tokens: int | None, temperature: float | None,
                 top_p: float | None, seed: int | None, param: str = "max_tokens",
                 top_k: int | None = None, min_p: float | None = None,
                 repeat_penalty: float | None = None) -> SamplingSettings:
    chosen = base_sampling()
    changes: dict[str, Any] = {"max_tokens": max_tokens_for(state, max_tokens, param)}
    if temperature is not None:
        changes["temperature"] = float(temperature)
    if top_p is not None:
        changes["top_p"] = float(top_p)
    if top_k is not None:
        changes["top_k"] = int(top_k)
    if seed is not None:
        if not 0 <= seed < 2**31:
            raise ApiError(400, "seed must be between 0 and 2147483647.", param="seed")
        changes["seed"] = seed
    # Clients that set sampling themselves expect exactly it: the app's extra filters and
    # repeat penalty would change their distribution (OpenAI applies neither).
    if temperature is not None or top_p is not None:
        changes.setdefault("top_k", 0)
        changes["min_p"] = 0.0
        changes["repeat_penalty"] = 1.0
    # ...unless they name those too (llama.cpp's extensions; a remote Glassbox sends them).
    if min_p is not None:
        changes["min_p"] = float(min_p)
    if repeat_penalty is not None:
        changes["repeat_penalty"] = float(repeat_penalty)
    return replace(chosen, **changes)


def stops_for(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else list(stop)
    if len(stops) > 4:
        raise ApiError(400, "stop takes at most 4 sequences.", param="stop")
    return tuple(s for s in stops if s)


def top_logprobs_for(asked: int | None, param: str) -> int:
    if asked is None:
        return 0
    if not 0 <= asked <= MAX_TOP_LOGPROBS:
        raise ApiError(400, f"{param} must be between 0 and {MAX_TOP_LOGPROBS}.", param=param)
    return asked


def check_n(n: int) -> None:
    if n != 1:
        raise ApiError(400, "n must be 1: this server makes one choice per request.",
                       param="n")


def json_grammar() -> str:
    from llama_cpp.llama_grammar import JSON_GBNF

    return str(JSON_GBNF)


def schema_grammar(schema: Any, param: str) -> str:
    """GBNF for a JSON schema, or a 400 naming what llama.cpp's converter could not use."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    if not isinstance(schema, dict):
        raise ApiError(400, f"{param} must be a JSON schema object.", param=param)
    try:
        return str(json_schema_to_gbnf(json.dumps(schema)))
    except Exception as exc:  # the converter raises plain errors of several kinds
        raise ApiError(400, f"The JSON schema cannot be turned into a grammar: {exc}",
                       code="unsupported_schema", param=param) from exc


async def run(state: ServerState, request: CompletionRequest,
              record: RequestRecord | None) -> AsyncGenerator[CompletionEvent, None]:
    """The completion's events from an engine of the pool; the request log gets the prompt
    the model read and the reply."""
    if record is not None:
        record.model = state.pool.name
    # Closing this generator (core.server.streaming does, however a stream ends) must close
    # the pool's stream too: that is what cancels the reply and frees the engine.
    texts: list[str] = []
    try:
        async with aclosing(state.pool.stream(lambda engine: engine.complete(request))) as events:
            async for event in events:
                if isinstance(event, CompletionDone) and record is not None:
                    record.prompt, record.reply = event.prompt, event.text
                    record.prompt_tokens = event.prompt_tokens
                    record.completion_tokens = event.completion_tokens
                    record.finish_reason = event.finish_reason
                elif isinstance(event, CompletionPiece):
                    texts.append(event.text)
                yield event
    finally:
        if record is not None and not record.finish_reason:  # the client left mid-reply
            record.reply = "".join(texts)
            record.completion_tokens = len(texts)  # a piece a token, but for split characters
            record.finish_reason = "cancelled"


async def started(events: AsyncGenerator[Any, None]) -> AsyncGenerator[Any, None]:
    """`events` with its first event already read, so what fails before the model writes
    (a full queue, a grammar llama.cpp refuses) is an HTTP status, not an event in a stream
    that already said 200."""
    try:
        first = await events.__anext__()
    except StopAsyncIteration:
        first = None

    async def rest() -> AsyncGenerator[Any, None]:
        try:
            if first is not None:
                yield first
            async for event in events:
                yield event
        finally:
            await events.aclose()

    return rest()


def record_of(request: Any) -> RequestRecord | None:
    record: RequestRecord | None = request.scope.get("state", {}).get("record")
    return record


class ClientGone(Exception):
    """The client hung up before its (non-streamed) reply was ready."""


async def collect(events: AsyncIterator[CompletionEvent], request: Any
                  ) -> tuple[list[TokenLogprob], CompletionDone]:
    """The whole reply of a request that is not streamed, with its tokens' log-probabilities.
    A client that hangs up meanwhile cancels the generation, as a streaming client does,
    instead of holding an engine for a reply nobody will read (ClientGone)."""
    async def drain() -> tuple[list[TokenLogprob], CompletionDone]:
        tokens: list[TokenLogprob] = []
        async for event in events:
            if isinstance(event, CompletionDone):
                return tokens, event
            tokens.extend(event.logprobs)
        raise RuntimeError("the engine ended a completion without its last event")

    async def hung_up() -> None:
        # The body has been read: what comes next from the server is a disconnect.
        while (await request.receive())["type"] != "http.disconnect":
            pass

    reply = asyncio.ensure_future(drain())
    watch = asyncio.ensure_future(hung_up())
    try:
        await asyncio.wait({reply, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    if reply.done():
        return reply.result()
    reply.cancel()  # the pool stops the engine and waits for it to drain
    try:
        await reply
    except asyncio.CancelledError:
        pass
    raise ClientGone("The client closed the connection before the reply was ready.")
