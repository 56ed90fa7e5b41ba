"""The start-up model policy (core.models.startup), without a window."""

from __future__ import annotations

from pathlib import Path

from core.models.startup import NO_MODEL, StartupChoice, startup_model


def model(tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(b"GGUF")
    return str(path)


def test_the_chosen_default_wins_then_the_last_model_then_the_bundled_one(
        tmp_path: Path) -> None:
    default, last, bundled = (model(tmp_path, n) for n in ("d.gguf", "l.gguf", "b.gguf"))
    assert startup_model(default, last, [bundled], None, None) == StartupChoice("load", default)
    assert startup_model(None, last, [bundled], None, None) == StartupChoice("load", last)
    gone = str(tmp_path / "deleted.gguf")
    assert startup_model(None, gone, [bundled], None, None) == StartupChoice("load", bundled)
    assert startup_model(None, 42, [bundled], None, None).path == bundled  # a damaged setting
    assert startup_model(None, None, [], None, None) == StartupChoice("none", None, NO_MODEL)


def test_a_model_that_crashed_is_not_loaded_again_unasked(tmp_path: Path) -> None:
    last, other = model(tmp_path, "l.gguf"), model(tmp_path, "o.gguf")
    # The app died while loading it: say so, load nothing (the same file by another path too).
    same = str(tmp_path / "." / "l.gguf")
    died = startup_model(None, last, [], same, None)
    assert (died.action, died.path) == ("none", last) and "closed while loading" in died.message
    # Its engine died while it ran: offer to load it.
    stopped = startup_model(None, last, [], None, last)
    assert (stopped.action, stopped.path) == ("offer", last)
    assert "engine stopped while running l.gguf" in stopped.message
    # A crash of another model changes nothing.
    assert startup_model(None, last, [], other, other) == StartupChoice("load", last)
