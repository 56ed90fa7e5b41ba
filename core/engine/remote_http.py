"""The HTTP side of a remote engine: one bounded httpx transport under the official clients,
and the one place where their exceptions become messages a person can act on.

Why a transport of our own: the official clients read whatever a server sends. A URL that
points at a web page answers HTML with status 200, and a broken or hostile server can send a
body of any size; both are caught here, below the client, before its parser sees them.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2

from core.errors import (
    GlassboxError,
    RemoteAuthError,
    RemoteEngineError,
    RemoteTimeout,
)

MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # far above any reply or model list; far below RAM
CONNECT_TIMEOUT_S = 10.0
FIRST_TOKEN_TIMEOUT_S = 120.0  # a large model on a busy server reads a long prompt slowly


class NotAnApi(RemoteEngineError):
    """The address answered, but with a web page, not an API."""


class ResponseTooLarge(RemoteEngineError):
    """The server sent more than the engine reads from one answer."""


def bounded_transport(http: Any, limit: int = MAX_RESPONSE_BYTES) -> Any:
    """An HTTP transport of the module `http` (the openai client is built on httpx2, the
    ollama client on httpx: each gets a transport of its own library) that refuses web pages
    where an API should answer and stops reading an answer past `limit` bytes (a stream too,
    counted as it arrives)."""

    class BoundedStream(http.SyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any, url: str) -> None:
            self._inner, self._url = inner, url

        def __iter__(self) -> Iterator[bytes]:
            seen = 0
            for chunk in self._inner:
                seen += len(chunk)
                if seen > limit:
                    raise ResponseTooLarge(
                        f"{self._url} sent more than {limit // (1024 * 1024)} MB in one "
                        "answer; it was cut off there. Is this address really a model server?")
                yield chunk

        def close(self) -> None:
            self._inner.close()

    class BoundedTransport(http.HTTPTransport):  # type: ignore[misc, name-defined]
        def handle_request(self, request: Any) -> Any:
            response = super().handle_request(request)
            url = str(request.url)
            kind = response.headers.get("content-type", "").lower()
            # 401/403 pages from a proxy are still a key problem, said as such by the caller.
            if "text/html" in kind and response.status_code not in (401, 403):
                response.close()
                raise NotAnApi(f"{url} answered with a web page (HTTP {response.status_code}), "
                               "not an API. Check the address: an OpenAI-compatible server "
                               "answers at http://HOST:PORT (Glassbox adds /v1), Ollama at "
                               "http://HOST:11434.")
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                response.close()
                raise ResponseTooLarge(f"{url} announced {int(length) // (1024 * 1024)} MB; "
                                       f"the engine reads at most {limit // (1024 * 1024)} MB.")
            return http.Response(response.status_code, headers=response.headers,
                                 stream=BoundedStream(response.stream, url),
                                 extensions=response.extensions, request=request)

    return BoundedTransport()


def timeouts(http: Any, first_token_s: float = FIRST_TOKEN_TIMEOUT_S,
             connect_s: float = CONNECT_TIMEOUT_S) -> Any:
    """Connect quickly or fail; wait `first_token_s` for each read (the first token is the
    longest wait: the server reads the whole prompt first)."""
    return http.Timeout(connect=connect_s, read=first_token_s, write=30.0, pool=connect_s)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _server_message(body: Any) -> str:
    """The error text a server put in its body, in OpenAI's or Ollama's shape."""
    if isinstance(body, dict):
        inner = body.get("error", body.get("detail", body.get("message")))
        if isinstance(inner, dict):
            inner = inner.get("message", inner)
        if inner:
            return str(inner)[:300]
    if isinstance(body, str) and body.strip():
        try:
            return _server_message(json.loads(body))
        except ValueError:
            return body.strip()[:300]
    return ""


def explain(exc: BaseException, url: str, model: str | None = None) -> GlassboxError:
    """A GlassboxError that says what went wrong talking to `url`, from whatever the openai
    or ollama client, httpx or our transport raised."""
    import openai

    for cause in _causes(exc):
        if isinstance(cause, GlassboxError):
            return cause
    for cause in _causes(exc):
        connect = isinstance(cause, httpx.ConnectError | httpx2.ConnectError)
        if isinstance(cause, ssl.SSLError) or "CERTIFICATE_VERIFY" in str(cause) or (
                connect and "SSL" in str(cause)):
            return RemoteEngineError(
                f"TLS failed with {url}: {cause}. If the server uses a self-signed "
                "certificate, trust it in the system's certificate store; if it speaks plain "
                "HTTP, use an http:// address.")
    response = getattr(exc, "response", None)
    status = getattr(exc, "status_code", None) or getattr(response, "status_code", None)
    body = getattr(exc, "body", None) or getattr(exc, "error", None)
    if body is None and isinstance(exc, httpx.HTTPStatusError | httpx2.HTTPStatusError):
        body = exc.response.text
    said = _server_message(body) or _server_message(str(exc))
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException
                  | httpx2.TimeoutException):
        return RemoteTimeout(f"{url} accepted the request but sent nothing back in time. The "
                             "server may be busy or the model still loading; try again, or "
                             "raise the engine's timeout.")
    if isinstance(exc, openai.APIConnectionError | httpx.NetworkError | httpx2.NetworkError
                  | ConnectionError):
        reason = next((str(c) for c in _causes(exc) if isinstance(c, OSError)), str(exc))
        return RemoteEngineError(f"Cannot reach {url}: {reason or 'connection failed'}. Is the "
                                 "server running, and is the address and port right?")
    if status in (401, 403):
        return RemoteAuthError(f"{url} refused the API key (HTTP {status}"
                               f"{': ' + said if said else ''}). Set the right key with "
                               "`glassbox engines add NAME --url ... --api-key-stdin`.")
    if status == 404:
        if model and ("model" in said.lower() or "not found" in said.lower()):
            return RemoteEngineError(f"{url} has no model '{model}' (any more?): {said}. "
                                     "`glassbox engines test NAME` lists the models it has.")
        return NotAnApi(f"{url} has no such endpoint (HTTP 404{': ' + said if said else ''}). "
                        "Check the address and the engine's kind (openai or ollama).")
    if status == 429:
        return RemoteEngineError(f"{url} is busy (HTTP 429): {said or 'too many requests'}. "
                                 "Try again in a moment.")
    if isinstance(status, int):
        return RemoteEngineError(f"{url} failed the request (HTTP {status}"
                                 f"{': ' + said if said else ''}).")
    return RemoteEngineError(f"Talking to {url} failed: {exc}")
