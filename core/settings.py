"""The user's settings as typed sections, read and written through the store's settings table.

One section a key, each a frozen dataclass: sampling ("sampling"), how models load ("load",
with the context length), the models used lately ("models"), where the window was ("ui") and
the Server panel's choices ("server").
Reading never fails: a missing row, a value of the wrong type or an unreadable one gives that
field its default, so a hand-edited or damaged database never stops the app or the CLI.

Older versions kept some of these under keys of their own ("n_ctx", "last_model",
"recent_models", "crashed_model", "selected_chat"). They are still read, under the new key's
values, and saving a section writes its new form and removes the old rows it replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from core.engine.types import SamplingSettings, sampling_from
from core.models.load_settings import LoadSettings
from core.server.config import ServerConfig

_SERVE = ServerConfig()  # `glassbox serve`'s defaults: the panel starts from the same ones

if TYPE_CHECKING:
    from core.store.settings import SettingsStore

__all__ = ["MAX_RECENT_MODELS", "AppSettings", "LoadSettings", "RecentModels",
           "SamplingSettings", "ServerSettings", "UIState", "keep_server_key", "read",
           "read_saved", "read_settings", "sampling_from", "save", "update", "with_server_key"]

MAX_RECENT_MODELS = 8
_MISSING = object()


@dataclass(frozen=True)
class RecentModels:
    """The model loaded last, the files opened lately, and the one whose engine crashed."""

    last: str | None = None
    recent: tuple[str, ...] = ()
    crashed: str | None = None  # not loaded on its own at the next start

    def remembered(self, path: str, library: Sequence[str]) -> RecentModels:
        """`path` loaded: it is the last model and at the front of the recent list (models in
        the library are listed from there, so they do not crowd the recent list), and no
        longer the crashed one, since the user chose it again."""
        recent = list(self.recent)
        if path not in library:
            recent = [path] + [p for p in recent if p != path]
        return RecentModels(path, tuple(recent[:MAX_RECENT_MODELS]),
                            None if self.crashed == path else self.crashed)

    @classmethod
    def from_value(cls, value: Any) -> RecentModels:
        if not isinstance(value, dict):
            return cls()
        recent = value.get("recent")
        paths = tuple(p for p in recent if isinstance(p, str)) if isinstance(recent, list) else ()
        return cls(_text(value.get("last")), paths, _text(value.get("crashed")))

    def to_dict(self) -> dict[str, Any]:
        return {"last": self.last, "recent": list(self.recent), "crashed": self.crashed}


@dataclass(frozen=True)
class UIState:
    """Where the user left the window (its geometry stays in Qt's window.ini)."""

    selected_chat: int | None = None

    @classmethod
    def from_value(cls, value: Any) -> UIState:
        if not isinstance(value, dict):
            return cls()
        chat = value.get("selected_chat")
        return cls(chat if isinstance(chat, int) and not isinstance(chat, bool) else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SERVER_KEY_NAME = "@server"  # the Server panel's own key in core.secrets: no engine name has "@"
_KEY_SOURCES = ("none", "keyring", "file")


@dataclass(frozen=True)
class ServerSettings:
    """The Server panel's address, key and engines, and whether it was serving when the app
    closed (then it serves again at the next start). The defaults are `glassbox serve`'s.

    The key itself is never stored in the database: `keep_server_key` puts it in the system
    keyring (or a file only the user can read) and the row says only where; `with_server_key`
    reads it back. A key an older version stored in the row is still read, and moved out at
    the next save."""

    host: str = _SERVE.host
    port: int = _SERVE.port
    api_key: str = ""
    parallel: int = _SERVE.parallel
    running: bool = False
    key_source: str = field(default="none", compare=False)  # where keep_server_key put it

    @classmethod
    def from_value(cls, value: Any) -> ServerSettings:
        if not isinstance(value, dict):
            return cls()
        base = cls()
        host, key, source = value.get("host"), value.get("api_key"), value.get("key_source")
        return cls(host if isinstance(host, str) and host.strip() else base.host,
                   _int(value.get("port"), 0, 65535, base.port),
                   key if isinstance(key, str) else base.api_key,
                   _int(value.get("parallel"), 1, 16, base.parallel),
                   value.get("running") is True,
                   source if source in _KEY_SOURCES else "none")

    def to_dict(self) -> dict[str, Any]:
        value = asdict(self)
        del value["api_key"]
        return value


def keep_server_key(value: ServerSettings) -> ServerSettings:
    """Store the panel's key where secrets belong (or forget it when cleared) and return the
    settings to save, which name only the place."""
    from core.secrets import KeyRef, delete_key, store_key

    delete_key(SERVER_KEY_NAME, KeyRef(value.key_source))  # type: ignore[arg-type]
    if not value.api_key:
        return replace(value, key_source="none")
    return replace(value, key_source=store_key(SERVER_KEY_NAME, value.api_key).source)


def with_server_key(value: ServerSettings) -> ServerSettings:
    """`value` with its key read back from where `keep_server_key` put it. A key that is gone
    (a keyring reset, a deleted file) reads as none: the panel then asks for a new one before
    it serves beyond this computer, rather than refusing to open."""
    if value.key_source == "none" or value.api_key:
        return value
    from core.secrets import KeyRef, SecretError, read_key

    try:
        key = read_key(SERVER_KEY_NAME, KeyRef(value.key_source))  # type: ignore[arg-type]
    except SecretError:
        return replace(value, key_source="none")
    return replace(value, api_key=key or "")


@dataclass(frozen=True)
class AppSettings:
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    load: LoadSettings = field(default_factory=LoadSettings)
    models: RecentModels = field(default_factory=RecentModels)
    ui: UIState = field(default_factory=UIState)
    server: ServerSettings = field(default_factory=ServerSettings)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any, low: int, high: int, default: int) -> int:
    ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    return value if ok else default


S = TypeVar("S", SamplingSettings, LoadSettings, RecentModels, UIState, ServerSettings)


@dataclass(frozen=True)
class _Section(Generic[S]):
    key: str
    parse: Callable[[Any], S]
    dump: Callable[[S], Any]
    # Rows of older versions: their key -> the field of this section's value they held.
    old_keys: dict[str, str] = field(default_factory=dict)


_SECTIONS: dict[type, _Section[Any]] = {
    SamplingSettings: _Section("sampling", sampling_from, asdict),
    LoadSettings: _Section("load", LoadSettings.from_value, LoadSettings.to_dict,
                           {"n_ctx": "n_ctx"}),
    RecentModels: _Section("models", RecentModels.from_value, RecentModels.to_dict,
                           {"last_model": "last", "recent_models": "recent",
                            "crashed_model": "crashed"}),
    UIState: _Section("ui", UIState.from_value, UIState.to_dict,
                      {"selected_chat": "selected_chat"}),
    ServerSettings: _Section("server", ServerSettings.from_value, ServerSettings.to_dict),
}


def read(store: SettingsStore, kind: type[S]) -> S:
    """One section, e.g. `read(store.settings, LoadSettings)`; defaults where nothing usable
    is stored. Rows of older versions fill the fields the new key does not hold."""
    section: _Section[S] = _SECTIONS[kind]
    value = store.get(section.key, _MISSING)
    if section.old_keys and (value is _MISSING or isinstance(value, dict)):
        merged = {name: old for key, name in section.old_keys.items()
                  if (old := store.get(key, _MISSING)) is not _MISSING}
        if merged:
            value = {**merged, **(value if isinstance(value, dict) else {})}
    return section.parse(None if value is _MISSING else value)


def read_settings(store: SettingsStore) -> AppSettings:
    """Every section at once."""
    return AppSettings(read(store, SamplingSettings), read(store, LoadSettings),
                       read(store, RecentModels), read(store, UIState),
                       read(store, ServerSettings))


def read_saved(path: Path | None = None) -> AppSettings:
    """The settings saved in the database at `path` (default: the data folder's), read without
    opening it for writing: what the CLI runs with. Defaults when there is none yet."""
    from core.config import database_path
    from core.store.settings import peek_settings

    return peek_settings(path or database_path(), read_settings, AppSettings())


def save(store: SettingsStore,
         value: SamplingSettings | LoadSettings | RecentModels | UIState | ServerSettings,
         ) -> None:
    """Store one section in its current form (the old rows it replaces go), in one write."""
    section: _Section[Any] = _SECTIONS[type(value)]
    store.set_many({section.key: section.dump(value)}, remove=tuple(section.old_keys))


def update(store: SettingsStore, kind: type[S], **changes: Any) -> S:
    """Read one section, change some of its fields, save it; returns what was saved."""
    value = replace(read(store, kind), **changes)
    save(store, value)
    return value
