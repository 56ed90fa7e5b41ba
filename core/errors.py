"""Typed errors. The core raises these; the CLI and the GUI turn them into messages."""

from __future__ import annotations


class GlassboxError(Exception):
    """Root of every error Glassbox raises on purpose. The message is meant for a person."""


class ModelLoadError(GlassboxError):
    """A model file could not be loaded (missing, not GGUF, truncated, unsupported)."""


class EngineCrashed(GlassboxError):
    """The engine child process died; start a new one to continue."""


class PromptError(GlassboxError):
    """The prompt cannot be sent as it is (empty, or longer than the context window)."""


class NoModelLoaded(GlassboxError):
    """A generation was asked for before any model was loaded."""


class Cancelled(GlassboxError):
    """Long work was stopped by the user."""


class StoreError(GlassboxError):
    """The database could not be opened or changed."""
