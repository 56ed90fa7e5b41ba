"""Errors of the document pipeline."""

from __future__ import annotations

from core.errors import GlassboxError


class IndexingError(GlassboxError):
    """A document could not be read, parsed or indexed; the message says why."""


class UnknownCollection(GlassboxError):
    """No collection has the name asked for."""
