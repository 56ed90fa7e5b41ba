"""The saved remote engines: name, kind, address, model and where the key is (never the key).
(Beside core.engine, not in it: the engine package may not reach the store.)

Kept in the settings table of the app's database under one key, so the app and the CLI see
the same list; keys live in core.secrets. `check()` is the Models tab's *Test connection* and
`glassbox engines test`: it says, step by step, what works.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.engine.remote import EngineKind, RemoteEngine
from core.engine.remote_paths import parse_remote
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings
from core.errors import GlassboxError, NeedsLocalModel, RemoteEngineError
from core.secrets import KeyRef, KeySource, delete_key, read_key, store_key

SETTINGS_KEY = "remote_engines"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class EngineConfig:
    name: str
    url: str
    kind: EngineKind = "openai"
    model: str | None = None  # None: the first model the server lists
    key: KeyRef = field(default_factory=KeyRef)
    n_ctx: int | None = None  # the server's context, when the user knows it

    @classmethod
    def from_value(cls, value: Any) -> EngineConfig | None:
        """From the stored JSON; None for a damaged row (skipped, never fatal)."""
        if not isinstance(value, dict):
            return None
        name, url, kind = value.get("name"), value.get("url"), value.get("kind", "openai")
        if not (isinstance(name, str) and isinstance(url, str) and kind in ("openai", "ollama")):
            return None
        stored = value.get("key")
        key: dict[str, Any] = stored if isinstance(stored, dict) else {}
        source: KeySource = key["source"] if key.get("source") in ("none", "keyring", "file",
                                                                  "env") else "none"
        env = key.get("env") if isinstance(key.get("env"), str) else None
        model = value.get("model") if isinstance(value.get("model"), str) else None
        n_ctx = value.get("n_ctx")
        n_ctx = n_ctx if isinstance(n_ctx, int) and not isinstance(n_ctx, bool) and n_ctx > 0 \
            else None
        return cls(name, url, kind, model, KeyRef(source, env), n_ctx)

    def to_value(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckStep:
    name: str  # "reachable", "auth", "models", "chat", "logprobs", "tokenize"
    ok: bool | None  # None: not tried (an earlier step failed)
    detail: str


class EngineRegistry:
    """The saved engines of the database at `path` (default: the data folder's)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path

    def _db(self) -> Path:
        from core.config import database_path

        return self._path or database_path()

    def _read(self) -> dict[str, Any]:
        from core.store.settings import peek_settings

        raw: Any = peek_settings(self._db(), lambda s: s.get(SETTINGS_KEY, {}), {})
        return raw if isinstance(raw, dict) else {}

    def _write(self, change: Callable[[dict[str, Any]], None]) -> None:
        from core.store import ChatStore

        store = ChatStore(self._db())
        try:
            stored = store.settings.get(SETTINGS_KEY, {})
            raw: dict[str, Any] = stored if isinstance(stored, dict) else {}
            change(raw)
            store.settings.set(SETTINGS_KEY, raw)
        finally:
            store.close()

    def list(self) -> list[EngineConfig]:
        return sorted((c for v in self._read().values() if (c := EngineConfig.from_value(v))),
                      key=lambda c: c.name.lower())

    def get(self, name: str) -> EngineConfig:
        config = EngineConfig.from_value(self._read().get(name))
        if config is None:
            known = ", ".join(c.name for c in self.list()) or "none yet"
            raise RemoteEngineError(f"No saved engine is called {name!r} (saved: {known}). Add "
                                    "one with `glassbox engines add NAME --url URL`.")
        return config

    def add(self, name: str, url: str, kind: EngineKind = "openai", model: str | None = None,
            api_key: str | None = None, api_key_env: str | None = None,
            n_ctx: int | None = None) -> EngineConfig:
        """Save an engine (replacing one of the same name). The key goes to the keyring, or
        to a 0600 file where none works (`config.key.source` says which); with `api_key_env`
        only the variable's name is kept."""
        if not _NAME.match(name):
            raise RemoteEngineError(f"{name!r} cannot name an engine: use letters, digits, "
                                    "'.', '_' or '-' (up to 64).")
        if api_key and api_key_env:
            raise RemoteEngineError("Give the key or the variable that holds it, not both.")
        if api_key_env is not None and not _ENV.match(api_key_env):
            raise RemoteEngineError(f"{api_key_env!r} is not an environment variable name.")
        RemoteEngine(url, kind)  # checks the address and kind; opens nothing
        old = EngineConfig.from_value(self._read().get(name))
        if api_key:
            ref = store_key(name, api_key)
        elif api_key_env:
            ref = KeyRef("env", api_key_env)
        else:
            ref = KeyRef()
        if old is not None and old.key.source != ref.source:
            delete_key(name, old.key)
        config = EngineConfig(name, url.strip(), kind, model, ref, n_ctx)
        self._write(lambda raw: raw.__setitem__(name, config.to_value()))
        return config

    def remove(self, name: str) -> EngineConfig:
        config = self.get(name)
        delete_key(name, config.key)
        self._write(lambda raw: raw.pop(name, None))
        return config

    def open(self, path: str) -> RemoteEngine:
        """The started engine for a "remote:NAME/MODEL" path (core/engine/remote_paths.py):
        the server is asked for its models now, so a missing one is a clear error here."""
        name, model = parse_remote(path)
        engine = self.engine(name, model=model)
        engine.start()
        return engine

    def engine(self, name: str, model: str | None = None, n_ctx: int | None = None,
               **options: Any) -> RemoteEngine:
        """A RemoteEngine for the saved engine `name` (not started: `start()` or `with`);
        `model` and `n_ctx` override the saved ones; `options` go to RemoteEngine (timeouts,
        response limit)."""
        config = self.get(name)
        return RemoteEngine(config.url, config.kind, model or config.model,
                            read_key(name, config.key), name=name, n_ctx=n_ctx or config.n_ctx,
                            **options)


def check(engine: RemoteEngine) -> list[CheckStep]:
    """Try each thing a remote engine does and say what works (the engine is closed after)."""
    steps: list[CheckStep] = []

    def skipped(*names: str) -> list[CheckStep]:
        return steps + [CheckStep(n, None, "not tried") for n in names]

    try:
        engine.start()
    except GlassboxError as exc:
        text = str(exc)
        auth = "API key" in text
        steps.append(CheckStep("reachable", True if auth else False, text if not auth
                               else "the server answered"))
        if auth:
            steps.append(CheckStep("auth", False, text))
            return skipped("models", "chat", "logprobs", "tokenize")
        return skipped("auth", "models", "chat", "logprobs", "tokenize")
    try:
        steps.append(CheckStep("reachable", True, engine.where))
        steps.append(CheckStep("auth", True, "accepted" if engine.has_key else "no key needed"))
        listed = engine.models()
        steps.append(CheckStep("models", True, f"{len(listed)}: " + ", ".join(listed[:8])))
        try:
            events = list(engine.generate([ChatMessage("user", "Say hi.")],
                                          SamplingSettings(temperature=0.0, max_tokens=8)))
            done = events[-1]
            assert isinstance(done, DoneEvent)
            steps.append(CheckStep("chat", True, f"{engine.model.name if engine.model else ''}"
                                   f" answered {done.text.strip()[:40]!r}"))
        except GlassboxError as exc:
            steps.append(CheckStep("chat", False, str(exc)))
        try:
            view = engine.next_token("The sky is", top=10)
            steps.append(CheckStep("logprobs", True, f"{getattr(view, 'alternatives', 0)} "
                                   "alternatives per token (10 asked)"))
        except GlassboxError as exc:
            steps.append(CheckStep("logprobs", False, str(exc)))
        try:
            pieces = engine.tokenize("Hello world")
            steps.append(CheckStep("tokenize", True, f"{len(pieces)} tokens for 'Hello world' "
                                   f"({engine.tokenizer_endpoint})"))
        except (NeedsLocalModel, GlassboxError) as exc:
            steps.append(CheckStep("tokenize", False, str(exc)))
        return steps
    finally:
        engine.close()
