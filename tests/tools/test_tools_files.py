"""The file tool reads text inside the folders the user allowed, and nothing outside them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import ToolError
from core.tools.builtins import builtin_tools, read_allowed_file


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    allowed = tmp_path / "allowed"
    (allowed / "sub").mkdir(parents=True)
    (allowed / "notes.txt").write_text("the meeting is on Tuesday", encoding="utf-8")
    (allowed / "sub" / "deep.md").write_text("# deep", encoding="utf-8")
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text("the password", encoding="utf-8")
    return allowed, outside


def test_a_file_inside_is_read_by_relative_or_absolute_path(folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    (tool,) = builtin_tools(["files"], allowed_folders=[str(allowed)])
    assert tool.run({"path": "notes.txt"}) == "the meeting is on Tuesday"
    assert tool.run({"path": str(allowed / "sub" / "deep.md")}) == "# deep"
    assert tool.run({"path": "sub/../notes.txt"}).startswith("the meeting")


@pytest.mark.parametrize("path", ["../private/secret.txt", "sub/../../private/secret.txt",
                                  "{outside}/secret.txt", "/etc/passwd"])
def test_paths_that_leave_the_allowed_folders_are_refused(folders: tuple[Path, Path],
                                                          path: str) -> None:
    allowed, outside = folders
    with pytest.raises(ToolError, match="outside the folders allowed"):
        read_allowed_file(path.format(outside=outside), [allowed])


def test_a_symlink_that_escapes_is_refused_one_that_stays_inside_is_read(
        folders: tuple[Path, Path]) -> None:
    allowed, outside = folders
    os.symlink(outside / "secret.txt", allowed / "innocent.txt")
    os.symlink(outside, allowed / "linked-folder")
    os.symlink(allowed / "notes.txt", allowed / "sub" / "alias.txt")
    for path in ("innocent.txt", "linked-folder/secret.txt"):
        with pytest.raises(ToolError, match="outside the folders allowed"):
            read_allowed_file(path, [allowed])
    assert read_allowed_file("sub/alias.txt", [allowed]) == "the meeting is on Tuesday"


def test_no_folder_missing_file_folder_binary_and_size_each_say_so(
        folders: tuple[Path, Path]) -> None:
    allowed, _ = folders
    with pytest.raises(ToolError, match="No folder is allowed"):
        read_allowed_file("notes.txt", [])
    with pytest.raises(ToolError, match="no file 'nope.txt'"):
        read_allowed_file("nope.txt", [allowed])
    with pytest.raises(ToolError, match="not a file"):
        read_allowed_file("sub", [allowed])
    (allowed / "image.bin").write_bytes(b"\x89PNG\x00\x00\x01")
    with pytest.raises(ToolError, match="not a text file"):
        read_allowed_file("image.bin", [allowed])
    (allowed / "big.txt").write_text("x" * 5000, encoding="utf-8")
    with pytest.raises(ToolError, match="5,000 bytes"):
        read_allowed_file("big.txt", [allowed], max_bytes=1000)
    (allowed / "latin.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(ToolError, match="not UTF-8"):
        read_allowed_file("latin.txt", [allowed])
    assert (allowed / "notes.txt").read_text(encoding="utf-8") == "the meeting is on Tuesday"
