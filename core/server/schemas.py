"""OpenAI's request bodies as pydantic models: FastAPI checks types with them, and the
fields Glassbox does not know are kept (extra="allow") rather than refused, as OpenAI's
clients send new fields before servers learn them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ContentPart(_Open):
    type: str
    text: str | None = None


class Message(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class StreamOptions(_Open):
    include_usage: bool = False


class ResponseFormat(_Open):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


class Sampling(_Open):
    """The fields chat and text completions share."""

    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    seed: int | None = None
    # Beyond OpenAI's API, by the names llama.cpp's server and llama-cpp-python use:
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0, le=1)
    repeat_penalty: float | None = Field(default=None, ge=0)
    stop: str | list[str] | None = None
    presence_penalty: float = Field(default=0.0, ge=-2, le=2)
    frequency_penalty: float = Field(default=0.0, ge=-2, le=2)
    n: int = 1
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None


class ChatCompletionRequest(Sampling):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    response_format: ResponseFormat | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    # Glassbox's own: answer from these document collections, with citations
    collections: list[str] | None = None


class CompletionRequestBody(Sampling):
    prompt: str | list[str] | list[int]
    echo: bool = False
    logprobs: int | None = None  # the legacy API: alternatives per token (0-5 there; 20 here)
    suffix: str | None = None


class EmbeddingRequest(_Open):
    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


# -- Ollama's request bodies (/api/...) ----------------------------------------------------
class OllamaOptions(_Open):
    """The `options` Ollama clients send; the ones that change a reply here are mapped,
    the load-time ones (num_ctx, num_gpu, ...) are kept and not used: the model is loaded."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    seed: int | None = None
    num_predict: int | None = None
    stop: list[str] | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    repeat_penalty: float | None = Field(default=None, ge=0)


class OllamaMessage(_Open):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    images: list[str] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_name: str | None = None


class OllamaRun(_Open):
    model: str = ""
    stream: bool = True  # Ollama streams unless told not to
    format: str | dict[str, Any] | None = None
    options: OllamaOptions | None = None
    keep_alive: str | float | None = None
    logprobs: bool = False
    top_logprobs: int | None = None


class OllamaChatRequest(OllamaRun):
    messages: list[OllamaMessage] = Field(default_factory=list)
    tools: list[dict[str, Any]] | None = None


class OllamaGenerateRequest(OllamaRun):
    prompt: str = ""
    system: str | None = None
    raw: bool = False
    suffix: str | None = None
    template: str | None = None
    images: list[str] | None = None


class OllamaShowRequest(_Open):
    model: str = ""
    name: str | None = None  # older clients send `name`


class OllamaEmbedRequest(_Open):
    model: str = ""
    input: str | list[str]
    truncate: bool = True
    dimensions: int | None = None


class OllamaEmbeddingsRequest(_Open):
    model: str = ""
    prompt: str


# -- Glassbox's own (/v1/glassbox/...) -------------------------------------------------------
class SearchRequest(_Open):
    query: str = Field(min_length=1)
    collections: list[str] | None = None  # None: every collection
    top_k: int = Field(default=5, ge=1, le=50)


class SurpriseRequest(_Open):
    text: str = Field(min_length=1)
    context: list[Message] | None = None  # score `text` as the reply to this conversation
    top: int = Field(default=5, ge=0, le=20)
    model: str | None = None
