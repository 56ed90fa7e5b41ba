"""Glassbox's front door: what a program needs to use local models the way the app does.

    from core import api

    with api.open_chats() as chats, api.start_engine() as engine:
        api.load_model(engine, "bundled:smollm2-135m-instruct")   # the user's load settings
        session = api.ChatSession(chats, engine)
        chat = chats.create_chat("hello")
        for event in session.send(chat.id, "Hi!", api.saved_settings().sampling):
            ...

The desktop, the CLI, the benchmarks and the tests go through these names; the modules behind
them are free to move. Names load on first use (PEP 562), so importing this module costs
nothing: the window imports it on its start path, and torch, numpy or llama.cpp come along
only with the first name that needs them.

What is here, by task:
- data folder: `data_home`, `database_path`
- settings: `AppSettings`, `saved_settings`, `SamplingSettings`, `LoadSettings`,
  `RecentModels`, `UIState`, `DEFAULT_N_CTX`
- models: `ModelRegistry`, `ModelEntry`, `resolve_model`, `EngineClient`, `start_engine`,
  `load_model`, `ModelInfo`
- chats: `ChatStore`, `open_chats`, `ChatSession`, `ChatMessage`, `ChatSummary`,
  `StoredMessage` and the reply events (`TokenEvent`, `DoneEvent`, `ReplyStarted`,
  `SearchingDocuments`, `Grounded`)
- documents: `DocumentLibrary`, `open_library`, `CollectionInfo`, `DocumentInfo`,
  `IndexProgress`, `Hit`, `Grounding`, `Source`; document summaries by the chat model:
  `summarize_events`, `SummaryProgress`, `DocumentSummary`
- inspection: `EngineClient`'s capture and probability methods, `TokenPiece`
- comparisons: `Variant`, `run_comparison`, `Comparison`
- remote engines: `RemoteEngine` (a server's model with EngineClient's interface),
  `EngineRegistry` (saved engines: add, list, get, remove, engine), `EngineConfig`,
  `check_engine` (Test connection: a list of `CheckStep`), `RemoteNextTokenView`,
  `NeedsLocalModel`, `RemoteEngineError`, `RemoteAuthError`, `RemoteTimeout`,
  `RemoteStreamLost`, `keyring_works`
- serving: `LocalServer`, `ServerConfig`, `ServerConfigError`, `RequestLog`, `RequestRecord`,
  `ServerSettings`, `server_snippets` (FastAPI and uvicorn load only when a server starts)
- tools and agents: `run_agent`, `Toolbox`, `builtin_tools`, `BUILTIN_NAMES`, `ChatTools`,
  `ToolSpec`, `ToolCall`, `ToolOutcome`, `AgentStep`, `AgentTrace` and the agent's events
  (`StepStarted`, `TextPiece`, `CallProposed`, `CallDecided`, `CallFinished`, `StepFinished`,
  `AgentFinished`)
- errors: `GlassboxError` and its kinds
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.lazy_names import lazy_getattr

if TYPE_CHECKING:
    from core.chat import ChatSession, Grounded, ReplyStarted, SearchingDocuments
    from core.config import data_home, database_path, evals_path
    from core.defaults import DEFAULT_N_CTX
    from core.engine.client import EngineClient
    from core.engine.introspect_types import TokenPiece
    from core.engine.remote import RemoteEngine
    from core.engine.remote_inspect import RemoteNextTokenView
    from core.engine.types import ChatMessage, DoneEvent, ModelInfo, SamplingSettings, TokenEvent
    from core.errors import (
        Cancelled,
        EngineCrashed,
        GlassboxError,
        McpServerError,
        ModelLoadError,
        NeedsLocalModel,
        NoModelLoaded,
        PromptError,
        RemoteAuthError,
        RemoteEngineError,
        RemoteStreamLost,
        RemoteTimeout,
        StoreError,
        ToolError,
        ToolSchemaError,
        UnknownModel,
    )
    from core.models.load_settings import LoadSettings
    from core.models.registry import ModelEntry, ModelRegistry
    from core.prompts.compare import Variant, run_comparison
    from core.rag.grounding import Grounding, Source
    from core.rag.index_store import CollectionInfo, DocumentInfo
    from core.rag.library import DocumentLibrary, IndexProgress
    from core.rag.retrieve import Hit
    from core.rag.summaries import summarize_events
    from core.rag.summary_types import DocumentSummary, SummaryProgress
    from core.remote_engines import CheckStep, EngineConfig, EngineRegistry
    from core.secrets import keyring_works
    from core.server.config import ServerConfig, ServerConfigError
    from core.server.local_server import LocalServer
    from core.server.request_log import RequestLog, RequestRecord
    from core.settings import AppSettings, RecentModels, ServerSettings, UIState
    from core.store import ChatStore, ChatSummary, StoredMessage
    from core.store.comparisons import Comparison
    from core.tools.agent import run_agent
    from core.tools.builtins import BUILTIN_NAMES, builtin_tools
    from core.tools.toolbox import Toolbox
    from core.tools.types import (
        AgentEvent,
        AgentFinished,
        AgentStep,
        AgentTrace,
        CallDecided,
        CallFinished,
        CallProposed,
        ChatTools,
        StepFinished,
        StepStarted,
        TextPiece,
        ToolCall,
        ToolOutcome,
        ToolSpec,
    )

# name -> the module that holds it (the one place to change when code moves)
_HOMES = {
    "ChatSession": "core.chat", "Grounded": "core.chat", "ReplyStarted": "core.chat",
    "SearchingDocuments": "core.chat",
    "data_home": "core.config", "database_path": "core.config", "evals_path": "core.config",
    "DEFAULT_N_CTX": "core.defaults",
    "EngineClient": "core.engine.client",
    "TokenPiece": "core.engine.introspect_types",
    "CheckStep": "core.remote_engines", "EngineConfig": "core.remote_engines",
    "EngineRegistry": "core.remote_engines", "RemoteEngine": "core.engine.remote",
    "RemoteNextTokenView": "core.engine.remote_inspect", "keyring_works": "core.secrets",
    "NeedsLocalModel": "core.errors", "RemoteAuthError": "core.errors",
    "RemoteEngineError": "core.errors", "RemoteStreamLost": "core.errors",
    "RemoteTimeout": "core.errors",
    "ChatMessage": "core.engine.types", "DoneEvent": "core.engine.types",
    "ModelInfo": "core.engine.types", "SamplingSettings": "core.engine.types",
    "TokenEvent": "core.engine.types",
    "Cancelled": "core.errors", "EngineCrashed": "core.errors", "GlassboxError": "core.errors",
    "ModelLoadError": "core.errors", "NoModelLoaded": "core.errors",
    "PromptError": "core.errors", "StoreError": "core.errors", "UnknownModel": "core.errors",
    "LoadSettings": "core.models.load_settings",
    "ModelEntry": "core.models.registry", "ModelRegistry": "core.models.registry",
    "Variant": "core.prompts.compare", "run_comparison": "core.prompts.compare",
    "Grounding": "core.rag.grounding", "Source": "core.rag.grounding",
    "CollectionInfo": "core.rag.index_store", "DocumentInfo": "core.rag.index_store",
    "DocumentLibrary": "core.rag.library", "IndexProgress": "core.rag.library",
    "Hit": "core.rag.retrieve",
    "summarize_events": "core.rag.summaries",
    "DocumentSummary": "core.rag.summary_types", "SummaryProgress": "core.rag.summary_types",
    "AppSettings": "core.settings", "RecentModels": "core.settings", "UIState": "core.settings",
    "ServerSettings": "core.settings",
    "ServerConfig": "core.server.config", "ServerConfigError": "core.server.config",
    "LocalServer": "core.server.local_server",
    "RequestLog": "core.server.request_log", "RequestRecord": "core.server.request_log",
    "ChatStore": "core.store", "ChatSummary": "core.store", "StoredMessage": "core.store",
    "Comparison": "core.store.comparisons",
    # tools and agents (core/tools)
    "run_agent": "core.tools.agent", "Toolbox": "core.tools.toolbox",
    "BUILTIN_NAMES": "core.tools.builtins", "builtin_tools": "core.tools.builtins",
    "ToolError": "core.errors", "ToolSchemaError": "core.errors", "McpServerError": "core.errors",
    "AgentEvent": "core.tools.types",
    "AgentFinished": "core.tools.types",
    "AgentStep": "core.tools.types",
    "AgentTrace": "core.tools.types",
    "CallDecided": "core.tools.types",
    "CallFinished": "core.tools.types",
    "CallProposed": "core.tools.types",
    "ChatTools": "core.tools.types",
    "StepFinished": "core.tools.types",
    "StepStarted": "core.tools.types",
    "TextPiece": "core.tools.types",
    "ToolCall": "core.tools.types",
    "ToolOutcome": "core.tools.types",
    "ToolSpec": "core.tools.types",
}

__all__ = ["AppSettings", "Cancelled", "ChatMessage", "ChatSession", "ChatStore", "ChatSummary",
           "CollectionInfo", "Comparison", "DEFAULT_N_CTX", "DocumentInfo", "DocumentLibrary",
           "DoneEvent", "EngineClient", "EngineCrashed", "GlassboxError", "Grounded", "Grounding",
           "Hit", "IndexProgress", "LoadSettings", "LocalServer", "ModelEntry", "ModelInfo",
           "ModelLoadError", "ModelRegistry", "NoModelLoaded", "PromptError", "RecentModels",
           "ReplyStarted", "RequestLog", "RequestRecord", "SamplingSettings", "SearchingDocuments",
           "ServerConfig", "ServerConfigError", "ServerSettings", "Source", "StoreError",
           "StoredMessage", "TokenEvent", "TokenPiece", "UIState", "UnknownModel", "Variant",
           "CheckStep", "EngineConfig", "EngineRegistry", "NeedsLocalModel", "RemoteAuthError",
           "RemoteEngine", "RemoteEngineError", "RemoteNextTokenView", "RemoteStreamLost",
           "RemoteTimeout", "check_engine", "keyring_works",
           "data_home", "database_path", "load_model", "open_chats", "open_library",
           "resolve_model", "run_comparison", "saved_settings", "server_snippets",
           "start_engine", "start_summary_engine", "evals_path",
           "run_agent", "Toolbox", "BUILTIN_NAMES", "builtin_tools", "ToolError", "ToolSchemaError",
           "McpServerError", "AgentEvent", "AgentFinished", "AgentStep", "AgentTrace",
           "CallDecided",
           "CallFinished", "CallProposed", "ChatTools", "StepFinished", "StepStarted", "TextPiece",
           "ToolCall", "ToolOutcome", "ToolSpec",
           "summarize_events", "SummaryProgress", "DocumentSummary"]


__getattr__ = lazy_getattr(globals(), _HOMES)


def saved_settings(path: Path | None = None) -> AppSettings:
    """The settings the user chose in the app (defaults where none were saved), read without
    creating or migrating the database: safe while the app runs."""
    from core.settings import read_saved

    return read_saved(path)


def open_chats(path: Path | None = None) -> ChatStore:
    """The chat store of the data folder (or of `path`); close it, or use it in `with`."""
    from core.config import database_path
    from core.store import ChatStore

    return ChatStore(path or database_path())


def open_library(path: Path | None = None) -> DocumentLibrary:
    """The document collections of the data folder (or of `path`); close it, or use `with`."""
    from core.rag.library import DocumentLibrary

    return DocumentLibrary(path)


def start_engine() -> EngineClient:
    """A model process (llama.cpp runs in a child, so a crash never takes the caller down).
    Close it, or use it in `with`."""
    from core.engine.client import EngineClient

    engine = EngineClient()
    engine.start()
    return engine


def start_summary_engine() -> EngineClient:
    """An engine child for background work (the documents' summaries): the library's default
    model with the saved load settings, on one thread when it runs on the CPU, at the idle
    priority, so a chat reply or anything else the user waits for takes the CPU first (see
    core/background.py). A missing model is told before a process starts."""
    from dataclasses import replace

    from core.background import lower_process

    model = resolve_model(None)
    engine = start_engine()
    try:
        load_model(engine, model, replace(saved_settings().load, threads=1))
        if engine.pid is not None:
            lower_process(engine.pid)
    except BaseException:
        engine.close()
        raise
    return engine


def resolve_model(name_or_path: str | Path | None = None) -> Path:
    """A model's GGUF file from its library name ("bundled:smollm2-135m-instruct") or a path;
    None: the library's default. Raises UnknownModel for a name the library does not have."""
    from core.models.registry import ModelRegistry

    return ModelRegistry().resolve(name_or_path)


def load_model(engine: EngineClient, model: str | Path | None = None,
               settings: LoadSettings | None = None) -> ModelInfo:
    """Load a model into `engine` with `settings`, or with the load settings the user saved
    in the app (context length, threads, GPU layers, KV cache) when none are given."""
    from core.engine.loading import load_model as load

    chosen = settings if settings is not None else saved_settings().load
    return load(engine, resolve_model(model), chosen)


def check_engine(engine: RemoteEngine) -> list[CheckStep]:
    """Test connection: try each thing the remote `engine` does (reachable, key, models, chat,
    log-probabilities, tokenizer) and say what works; the engine is closed after."""
    from core.remote_engines import check

    return check(engine)


def server_snippets(url: str, model: str, api_key: str | None = None) -> dict[str, str]:
    """Copy-paste programs that call the server at `url` (curl, OpenAI Python, LangChain)."""
    from core.server.snippets import snippets

    return snippets(url, model, api_key)
