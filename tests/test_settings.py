"""Typed settings: round trips, the older keys they replace, damaged values, and the CLI
loading models with the settings chosen in the app."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core import settings as app_settings
from core.config import database_path
from core.defaults import DEFAULT_N_CTX, KV_BYTES_PER_ELEMENT
from core.engine.client import EngineClient
from core.engine.protocol import LoadRequest
from core.models.hardware import check_fit
from core.settings import (
    MAX_RECENT_MODELS,
    AppSettings,
    LoadSettings,
    RecentModels,
    SamplingSettings,
    ServerSettings,
    UIState,
    read,
    read_saved,
    read_settings,
    sampling_from,
    save,
    update,
)
from core.store import ChatStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store() -> Any:
    with ChatStore(database_path()) as s:
        yield s


def _rows(store: ChatStore) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in store.settings._conn.execute(
        "SELECT key, value FROM settings WHERE key NOT IN ('presets_seeded')")}


def test_every_section_round_trips_through_the_store(store: ChatStore) -> None:
    chosen = AppSettings(
        SamplingSettings(temperature=0.2, top_k=5, seed=9, max_tokens=64),
        LoadSettings(gpu_layers=-1, threads=3, flash_attn=True, kv_type="q4_0", n_ctx=8192),
        RecentModels("/m/a.gguf", ("/m/a.gguf", "/m/b.gguf"), "/m/b.gguf"),
        UIState(selected_chat=12),
        ServerSettings("0.0.0.0", 9000, "", 2, running=True),  # the key: see the server key test
    )
    for section in (chosen.sampling, chosen.load, chosen.models, chosen.ui, chosen.server):
        save(store.settings, section)
    assert read_settings(store.settings) == chosen
    with ChatStore(database_path()) as reopened:
        assert read_settings(reopened.settings) == chosen
    assert set(_rows(store)) == {"sampling", "load", "models", "ui", "server"}


def test_nothing_stored_reads_as_the_defaults(store: ChatStore) -> None:
    assert read_settings(store.settings) == AppSettings()
    assert read(store.settings, LoadSettings).n_ctx == DEFAULT_N_CTX


def test_the_keys_of_older_versions_are_read_then_replaced(store: ChatStore) -> None:
    old = {"n_ctx": 2048, "last_model": "/m/a.gguf", "recent_models": ["/m/a.gguf", 7],
           "crashed_model": "/m/c.gguf", "selected_chat": 4,
           # the "load" row of the version before, which had no context length in it
           "load": {"gpu_layers": 0, "threads": 2, "flash_attn": False, "kv_type": "q8_0"},
           "sampling": {"temperature": 0.3, "seed": 1}}
    for key, value in old.items():
        store.settings.set(key, value)
    got = read_settings(store.settings)
    assert got.load == LoadSettings(gpu_layers=0, threads=2, kv_type="q8_0", n_ctx=2048)
    assert got.models == RecentModels("/m/a.gguf", ("/m/a.gguf",), "/m/c.gguf")
    assert got.ui == UIState(4)
    assert got.sampling == SamplingSettings(temperature=0.3, seed=1)
    for section in (got.sampling, got.load, got.models, got.ui):
        save(store.settings, section)
    rows = _rows(store)
    assert set(rows) == {"sampling", "load", "models", "ui"}  # the old rows are gone
    assert rows["load"]["n_ctx"] == 2048
    assert rows["models"] == {"last": "/m/a.gguf", "recent": ["/m/a.gguf"],
                              "crashed": "/m/c.gguf"}
    assert read_settings(store.settings) == got


def test_the_new_key_wins_over_an_old_row(store: ChatStore) -> None:
    save(store.settings, LoadSettings(n_ctx=8192))
    store.settings.set("n_ctx", 1024)  # an older Glassbox on the same data folder
    assert read(store.settings, LoadSettings).n_ctx == 8192


@pytest.mark.parametrize("key, value", [
    ("sampling", {"temperature": "hot", "top_k": True, "top_p": float("nan"),
                  "seed": 10 ** 400, "max_tokens": float("inf"), "min_p": [1]}),
    ("sampling", [0.1, 0.2]),
    ("load", {"gpu_layers": -7, "threads": 1.5, "flash_attn": 1, "kv_type": None,
              "n_ctx": 0}),
    ("load", "fast"),
    ("n_ctx", "4096"),
    ("models", {"last": 3, "recent": "a.gguf", "crashed": ["x"]}),
    ("recent_models", {"a": 1}),
    ("ui", {"selected_chat": True}),
    ("selected_chat", "12"),
    ("server", {"host": " ", "port": 70000, "api_key": 5, "parallel": 0, "running": "yes"}),
    ("server", {"port": True, "parallel": 2.0}),
    ("server", "on"),
])
def test_damaged_values_fall_back_to_the_defaults(store: ChatStore, key: str,
                                                  value: Any) -> None:
    store.settings.set(key, value)
    assert read_settings(store.settings) == AppSettings()


def test_an_unreadable_row_falls_back_too(store: ChatStore) -> None:
    for key in ("sampling", "load", "models", "ui", "n_ctx"):
        store.settings._conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                                     (key, "{not json"))
    assert read_settings(store.settings) == AppSettings()


def test_one_sampling_parser_keeps_good_values_only() -> None:
    got = sampling_from({"temperature": 1, "top_k": 20.0, "seed": 3, "unknown": 1,
                         "top_p": float("-inf"), "max_tokens": False})
    assert got == SamplingSettings(temperature=1.0, top_k=20, seed=3)
    assert isinstance(got.temperature, float) and isinstance(got.top_k, int)


def test_update_changes_one_field(store: ChatStore) -> None:
    save(store.settings, RecentModels("/m/a.gguf", ("/m/a.gguf",)))
    assert update(store.settings, RecentModels, crashed="/m/a.gguf").last == "/m/a.gguf"
    assert read(store.settings, RecentModels).crashed == "/m/a.gguf"


def test_recent_models_keep_the_newest_few_outside_the_library() -> None:
    models = RecentModels(crashed="/m/x.gguf")
    for n in range(MAX_RECENT_MODELS + 3):
        models = models.remembered(f"/m/{n}.gguf", library=["/lib/a.gguf"])
    assert models.recent[0] == f"/m/{MAX_RECENT_MODELS + 2}.gguf"
    assert len(models.recent) == MAX_RECENT_MODELS
    models = models.remembered("/lib/a.gguf", library=["/lib/a.gguf"])
    assert models.last == "/lib/a.gguf" and "/lib/a.gguf" not in models.recent
    assert models.crashed == "/m/x.gguf"
    assert models.remembered("/m/x.gguf", []).crashed is None  # chosen again: not crashed


def test_read_saved_creates_nothing_and_survives_a_damaged_file(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    assert read_saved(missing) == AppSettings()
    assert not missing.exists()
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    assert read_saved(junk) == AppSettings()
    with ChatStore(database_path()) as s:
        save(s.settings, LoadSettings(n_ctx=1536))
        assert read_saved().load.n_ctx == 1536  # while the app holds it open


def test_one_default_context_and_one_kv_figure() -> None:
    assert DEFAULT_N_CTX == 4096
    assert LoadRequest("x").n_ctx == DEFAULT_N_CTX
    assert inspect.signature(EngineClient.load).parameters["n_ctx"].default == DEFAULT_N_CTX
    assert inspect.signature(check_fit).parameters["n_ctx"].default == DEFAULT_N_CTX
    assert KV_BYTES_PER_ELEMENT["f16"] == 2.0
    assert LoadSettings(kv_type="q8_0").kv_bytes_per_element == 34 / 32
    assert app_settings.LoadSettings is LoadSettings


# -- the CLI loads with the settings saved in the app ------------------------------------------
def test_cli_commands_load_with_the_saved_load_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from core import cli

    chosen = LoadSettings(gpu_layers=0, threads=2, flash_attn=True, kv_type="q8_0", n_ctx=1024)
    with ChatStore(database_path()) as s:
        save(s.settings, chosen)
    seen: list[dict[str, Any]] = []
    real_load = EngineClient.load

    def load(self: EngineClient, path: str | Path, **options: Any) -> Any:
        seen.append(options)
        return real_load(self, path, **options)

    monkeypatch.setattr(EngineClient, "load", load)
    expected = {"n_ctx": 1024, "n_gpu_layers": 0, "n_threads": 2, "flash_attn": True,
                "kv_type": "q8_0"}
    assert cli.main(["ask", "Hi", "--max-tokens", "2", "--seed", "1", "--json"]) == 0
    assert seen == [expected]
    assert cli.main(["inspect", "tokens", "Hi", "--ctx", "512", "--json"]) == 0
    assert seen[-1] == {**expected, "n_ctx": 512}  # a flag still wins


def test_glassbox_process_uses_the_saved_context() -> None:
    with ChatStore(database_path()) as s:
        save(s.settings, LoadSettings(gpu_layers=0, n_ctx=100_000_000))
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "ask", "Hi"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 1
    assert "A context of 100,000,000 tokens" in result.stderr  # refused before allocating
    assert "Traceback" not in result.stderr


def test_models_info_estimates_at_the_saved_context_and_kv_type(
        capsys: pytest.CaptureFixture[str]) -> None:
    from core.cli import main
    from core.models.registry import BUNDLED_CHAT_ID

    def kv_cache(*args: str) -> int:
        assert main(["models", "info", BUNDLED_CHAT_ID, "--json", *args]) == 0
        return int(json.loads(capsys.readouterr().out)["fit"]["estimate"]["kv_cache"])

    plain = kv_cache()  # nothing saved: DEFAULT_N_CTX in f16
    with ChatStore(database_path()) as s:
        save(s.settings, LoadSettings(n_ctx=2 * DEFAULT_N_CTX, kv_type="q8_0"))
    assert kv_cache() == int(plain * 2 * (34 / 32) / 2)
    assert kv_cache("--ctx", str(DEFAULT_N_CTX)) == int(plain * (34 / 32) / 2)


def test_the_server_key_is_kept_out_of_the_database(store: ChatStore) -> None:
    """The Server panel's key goes where remote engines' keys go (keyring, else a 0600 file);
    the settings row names only the place. A key an older version stored in the row is still
    read (and `keep_server_key` moves it out)."""
    from core.settings import keep_server_key, with_server_key

    chosen = ServerSettings("0.0.0.0", 8080, "s3cret-key-for-the-test", 2)
    save(store.settings, keep_server_key(chosen))
    row = store.settings.get("server")
    assert "s3cret-key-for-the-test" not in json.dumps(row)
    assert row["key_source"] in ("keyring", "file")
    plain = read(store.settings, ServerSettings)
    assert plain.api_key == "" and plain == replace(chosen, api_key="")
    assert with_server_key(plain) == chosen

    cleared = keep_server_key(replace(with_server_key(plain), api_key=""))
    save(store.settings, cleared)
    assert cleared.key_source == "none"
    assert with_server_key(read(store.settings, ServerSettings)).api_key == ""

    store.settings.set("server", {"host": "0.0.0.0", "api_key": "old-plain-key"})
    legacy = read(store.settings, ServerSettings)
    assert legacy.api_key == "old-plain-key" and legacy.key_source == "none"
    save(store.settings, keep_server_key(legacy))
    assert "old-plain-key" not in json.dumps(store.settings.get("server"))
    assert with_server_key(read(store.settings, ServerSettings)).api_key == "old-plain-key"
