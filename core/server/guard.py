"""One ASGI middleware in front of every endpoint: the API key, the body-size limit, and the
request log (which needs the status and the time of the whole response, streams included)."""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from core.server.errors import error_body
from core.server.request_log import RequestLog

Scope = dict[str, Any]
_OPEN_PATHS = ("/", "/health")  # liveness checks answer without a key


class GuardMiddleware:
    def __init__(self, app: Any, *, api_key: str | None, max_body_bytes: int,
                 log: RequestLog) -> None:
        self.app = app
        self._key = api_key.encode("utf-8") if api_key else None
        self._max_body = max_body_bytes
        self._log = log

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if scope["method"] == "OPTIONS":  # CORS preflight: the CORS middleware answers
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        record = self._log.start(scope["method"], path, f"{client[0]}:{client[1]}"
                                 if client else "")
        scope.setdefault("state", {})["record"] = record
        started = time.perf_counter()
        status = 500
        logged = False

        def log_once() -> None:
            nonlocal logged
            if not logged:
                logged = True
                self._log.finish(record, status, (time.perf_counter() - started) * 1000)

        async def send_logged(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Logged before the last byte goes out: a client that has its answer finds
                # its request in the log (the Server tab, /v1/glassbox/requests).
                log_once()
            await send(message)

        try:
            if self._key is not None and path not in _OPEN_PATHS and not self._authorized(scope):
                status = 401
                await _reply(send, path, 401, "Missing or wrong API key: send it as "
                             "'Authorization: Bearer KEY'.", "invalid_api_key")
                return
            declared = _content_length(scope)
            if declared is not None and declared > self._max_body:
                status = 413
                await _reply(send, path, 413, _too_large(self._max_body), "request_too_large")
                return
            body = await self._read_body(receive)
            if body is None:
                status = 413
                await _reply(send, path, 413, _too_large(self._max_body), "request_too_large")
                return
            await self.app(scope, _replay(body, receive), send_logged)
        finally:
            log_once()

    def _authorized(self, scope: Scope) -> bool:
        assert self._key is not None
        headers = dict(scope["headers"])
        given = headers.get(b"authorization", b"")
        if given.lower().startswith(b"bearer "):
            given = given[7:].strip()
        else:
            given = headers.get(b"x-api-key", b"")
        return hmac.compare_digest(given, self._key)  # constant time: no key guessing by timing

    async def _read_body(self, receive: Any) -> bytes | None:
        """The whole body, or None past the limit (a chunked body declares no length)."""
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(parts)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts)


def _replay(body: bytes, receive: Any) -> Any:
    """A receive() that hands the app the body already read, then waits for a disconnect."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _too_large(limit: int) -> str:
    return (f"The request body is larger than the server accepts ({limit // (1024 * 1024)} "
            "MiB). Send a shorter prompt.")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reply(send: Any, path: str, status: int, message: str, code: str) -> None:
    body = json.dumps(error_body(path, status, message, code)).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
