"""Glassbox's own endpoints: health, collections, and the Learn data an API can carry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from core.server.app import glassbox_state

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    state = glassbox_state(request)
    return {"status": "ok", "model": state.pool.name, "engines": state.pool.parallel,
            "waiting": state.pool.waiting}
