"""Streamed responses that always give their engine back.

Starlette stops iterating a stream when the client goes away (a send fails), but it does not
close the generators behind it, so the engine would stay taken until garbage collection. And
a client that keeps its connection open without reading would block a send forever. This
response closes the engine's event stream however the response ends, and gives up on a
client that has not taken a piece for SEND_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, MutableMapping
from typing import Any

from starlette.responses import StreamingResponse

SEND_TIMEOUT_S = 30.0


class EventStream(StreamingResponse):
    def __init__(self, content: AsyncIterator[bytes], engine_events: AsyncGenerator[Any, None],
                 media_type: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._engine_events = engine_events

    async def stream_response(self, send: Any) -> None:
        async def bounded_send(message: MutableMapping[str, Any]) -> None:
            # TimeoutError is an OSError: Starlette reads it as the client having gone.
            await asyncio.wait_for(send(message), SEND_TIMEOUT_S)

        try:
            await super().stream_response(bounded_send)
        finally:
            await self._engine_events.aclose()  # cancels the reply and frees the engine
