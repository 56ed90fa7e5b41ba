"""core.atomic: the new file appears whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.atomic import atomic_path, write_json_atomic


def test_an_error_in_the_block_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "list.json"
    write_json_atomic(target, {"version": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        temp.write_text("half of a new fi", encoding="utf-8")
        raise RuntimeError("disk full")
    assert json.loads(target.read_text(encoding="utf-8")) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.json"]


def test_the_new_content_replaces_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "ünïcode name.json"
    write_json_atomic(target, {"a": "é"})
    write_json_atomic(target, {"a": "ß"}, indent=None)
    assert target.read_text(encoding="utf-8") == '{"a": "ß"}'
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_block_that_writes_nothing_is_an_error_not_an_empty_file(tmp_path: Path) -> None:
    target = tmp_path / "out.gguf"
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert not target.exists()
