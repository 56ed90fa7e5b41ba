"""Ollama-compatible endpoints (/api/...), for clients that speak only Ollama."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
