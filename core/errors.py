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


class ModelImportError(GlassboxError):
    """A model file cannot join the library (not GGUF, truncated, unsupported, not copyable)."""


class ModelLibraryError(GlassboxError):
    """The model library cannot do that (remove a bundled model, delete a file it does not own)."""


class UnknownModel(ModelLibraryError):
    """No model in the library has that name."""


class HubError(GlassboxError):
    """The model hub could not be searched or asked about a repository."""


class DownloadError(GlassboxError):
    """A model download failed; what was received so far may be kept to resume later."""


class CaptureError(GlassboxError):
    """The model's internals (attention, residual streams) could not be read out of llama.cpp."""


class NeedsLocalModel(GlassboxError):
    """The feature reads the model's insides (attention, residual stream, weights) or its
    tokenizer, and the model runs on a remote server that does not expose them."""


class RemoteEngineError(GlassboxError):
    """A remote engine (an OpenAI-compatible or Ollama server) could not be used: unreachable,
    not an API, a TLS failure, an answer too large or malformed, a model it no longer has."""


class RemoteAuthError(RemoteEngineError):
    """The remote server refused the API key (HTTP 401 or 403), or wants one and got none."""


class RemoteTimeout(RemoteEngineError):
    """The remote server accepted the request but sent nothing back in time."""


class RemoteStreamLost(EngineCrashed):
    """The remote server stopped in the middle of a reply. Like a local engine crash, what
    arrived before is kept (the chat marks the reply interrupted); `text` holds it."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


class TrainingDataError(GlassboxError):
    """Fine-tuning data cannot be used: no file, an unknown format, no usable examples, or too
    few to hold some back for evaluation."""


class TrainingError(GlassboxError):
    """A fine-tuning run cannot start, continue or finish (an unsupported base model, a full
    disk while saving, a training child that died)."""


class UnsupportedBaseModel(TrainingError):
    """The base model's architecture is one transformers cannot load from a GGUF file, so it
    cannot be fine-tuned here."""


class AdapterError(GlassboxError):
    """A LoRA adapter cannot be exported or applied: made for another base model, a layer or
    module this Glassbox cannot carry to llama.cpp, a scale out of range."""


class ToolError(GlassboxError):
    """A tool could not run or returned nothing usable: an unknown tool, arguments that fail
    its schema, a path outside the allowed folders, a timeout, an MCP server that crashed,
    hung or wrote something that is not the protocol. The agent tells the model; the chat
    goes on."""


class ToolSchemaError(ToolError):
    """A tool's JSON schema cannot be turned into a llama.cpp grammar; the message names the
    tool."""


class McpServerError(ToolError):
    """An MCP server cannot be started, reached or understood (its configuration, its process,
    its connection); the message names the server."""


class SteeringError(GlassboxError):
    """A steering direction cannot be built or applied: too few pairs, a layer range outside
    the model, a control vector made for another model."""


class AttributionError(GlassboxError):
    """An attribution cannot be computed: an empty prompt or reply, a unit that does not
    exist in the prompt."""


class FoundationsError(GlassboxError):
    """A foundations-lab run cannot start or go on: an empty or too short text, a dataset of
    one class, a network too big for memory, a loss that diverged."""
