"""The FastAPI application: the routers, the guard, CORS, and errors in the clients' shapes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.errors import GlassboxError, PromptError, UnknownModel
from core.server.completions import ClientGone
from core.server.errors import ApiError, error_body
from core.server.guard import GuardMiddleware
from core.server.pool import QueueFull
from core.server.state import ServerState


def create_app(state: ServerState) -> FastAPI:
    from core.server import glassbox_routes, ollama_routes, openai_routes

    app = FastAPI(title="Glassbox", docs_url="/docs", redoc_url=None)
    app.state.glassbox = state
    app.include_router(openai_routes.router)
    app.include_router(ollama_routes.router)
    app.include_router(glassbox_routes.router)
    _add_error_handlers(app)
    if state.config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(state.config.cors_origins),
                           allow_methods=["GET", "POST", "OPTIONS"], allow_headers=["*"])
    # Added last, so it runs first: nothing reaches an endpoint without the key.
    app.add_middleware(GuardMiddleware, api_key=state.config.api_key,
                       max_body_bytes=state.config.max_body_bytes, log=state.log)
    return app


def _error(request: Request, status: int, message: str, code: str | None = None,
           param: str | None = None) -> JSONResponse:
    record = request.scope.get("state", {}).get("record")
    if record is not None:
        record.error = message
    return JSONResponse(error_body(request.url.path, status, message, code, param),
                        status_code=status)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    problems = exc.errors()
    if not problems:
        return "The request is not valid.", None
    first = problems[0]
    where = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(where) or None
    if first.get("type") == "json_invalid":
        return "The request body is not valid JSON.", None
    return f"{param or 'body'}: {first.get('msg', 'invalid value')}", param


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(request, exc.status, exc.message, exc.code, exc.param)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        return _error(request, 400, message, "invalid_request", param)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(ClientGone)
    async def gone(request: Request, exc: ClientGone) -> JSONResponse:
        # Nobody reads this answer; the status (nginx's "client closed request") is for the log.
        return _error(request, 499, str(exc), "client_closed_request")

    @app.exception_handler(QueueFull)
    async def busy(request: Request, exc: QueueFull) -> JSONResponse:
        return _error(request, 429, str(exc), "queue_full")

    @app.exception_handler(UnknownModel)
    async def unknown(request: Request, exc: UnknownModel) -> JSONResponse:
        return _error(request, 404, str(exc), "model_not_found", "model")

    @app.exception_handler(PromptError)
    async def prompt(request: Request, exc: PromptError) -> JSONResponse:
        return _error(request, 400, str(exc), "invalid_prompt")

    @app.exception_handler(GlassboxError)
    async def engine(request: Request, exc: GlassboxError) -> JSONResponse:
        return _error(request, 500, str(exc), "engine_error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _error(request, 500, f"The server failed: {type(exc).__name__}: {exc}",
                      "server_error")


def glassbox_state(request: Any) -> ServerState:
    state: ServerState = request.app.state.glassbox
    return state
