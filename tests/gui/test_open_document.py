"""Opening a cited PDF at its page, through whichever viewer can take a page number."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from desktop.open_document import open_document, page_viewer_command


@pytest.fixture
def fake_zathura(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in `zathura` on PATH that records the arguments it was started with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "viewer-args.txt"
    viewer = bin_dir / "zathura"
    viewer.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    viewer.chmod(viewer.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))  # and nothing else: no real viewer is found
    return log


def test_a_pdf_opens_at_the_cited_page(fake_zathura: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "atlas.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    assert page_viewer_command(str(pdf), 3) == [str(tmp_path / "bin" / "zathura"), "--page=3",
                                                str(pdf)]
    assert open_document(str(pdf), 3)
    deadline = time.monotonic() + 10
    while not fake_zathura.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_zathura.read_text().split() == ["--page=3", str(pdf)]


def test_a_missing_file_is_reported_not_opened(fake_zathura: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert not open_document(str(tmp_path / "gone.pdf"), 2)
    time.sleep(0.2)
    assert not fake_zathura.exists()
    assert page_viewer_command("x.pdf", 1) is not None
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    assert page_viewer_command("x.pdf", 1) is None
