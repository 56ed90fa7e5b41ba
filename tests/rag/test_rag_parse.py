"""Parsing real files: sections keep pages and headings; bad input fails with a reason."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from rag_files import encrypted, make_pdf, with_outline

from core.rag.errors import IndexingError
from core.rag.parse import Section, parse_file
from core.rag.parse_worker import ParserProcess


def test_markdown_sections_keep_headings(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("Intro line.\n# One\nfirst\n```\n# not a heading\n```\n## Two ##\nsecond\n")
    sections = parse_file(path)
    assert [s.heading for s in sections] == [None, "One", "Two"]
    assert "# not a heading" in sections[1].text
    assert sections[2].text == "Two\nsecond"


def test_html_keeps_h1_to_h3_and_drops_scripts(tmp_path: Path) -> None:
    path = tmp_path / "a.html"
    path.write_text("<html><head><title>Doc</title><script>var x = 'hidden';</script>"
                    "<style>.a{}</style></head><body><p>before &amp; after</p>"
                    "<h2>Second <b>level</b></h2><p>text two</p><h4>minor</h4><p>more</p>"
                    "</body></html>")
    sections = parse_file(path)
    assert sections[0] == Section("before & after", None, "Doc")
    assert sections[1].heading == "Second level"
    assert "text two" in sections[1].text and "minor" in sections[1].text
    assert all("hidden" not in s.text and ".a{}" not in s.text for s in sections)


def test_pdf_pages_are_one_based_with_outline_headings(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    pdf = make_pdf(["page one text", "", "page three text"])
    path.write_bytes(with_outline(pdf, [("Start", 0), ("Later", 2)]))
    sections = [s for s in parse_file(path)]
    assert [(s.page, s.heading) for s in sections] == [(1, "Start"), (3, "Later")]
    assert sections[1].text == "page three text"


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.txt", b"", "empty"),
    ("junk.txt", bytes(range(256)) * 4, "binary"),
    ("latin1.md", "caf\u00e9 cr\u00e8me".encode("latin-1"), "not valid UTF-8"),
    ("bad.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage", "damaged"),
    ("fake.pdf", b"just text", "not a PDF"),
    ("scan.pdf", make_pdf(["", ""]), "no text layer"),
    ("locked.pdf", encrypted(make_pdf(["secret text"])), "encrypted"),
    ("blank.html", b"<html><script>only()</script></html>", "no text"),
    ("data.bin", b"abc", "not a supported kind"),
])
def test_bad_input_fails_with_a_reason(tmp_path: Path, name: str, data: bytes,
                                        reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(IndexingError, match=reason):
        parse_file(path)


def test_parser_process_parses_and_reports_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text("hello there")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfd")
    with ParserProcess(time_limit_s=20) as parser:
        assert parser.parse(good) == [Section("hello there")]
        with pytest.raises(IndexingError, match="UTF-8"):
            parser.parse(bad)
        assert parser.parse(good) == [Section("hello there")]  # the same child goes on


def test_a_parser_that_hangs_is_stopped_and_the_next_file_parses(tmp_path: Path) -> None:
    # Reading a FIFO with no writer blocks forever: a real hang, as a bad PDF can cause.
    stuck = tmp_path / "stuck.txt"
    os.mkfifo(stuck)
    good = tmp_path / "good.txt"
    good.write_text("still fine")
    with ParserProcess(time_limit_s=1.5) as parser:
        parser.parse(good)  # the child is up, so the limit measures the hang alone
        started = time.monotonic()
        with pytest.raises(IndexingError, match="longer than 1.5 s"):
            parser.parse(stuck)
        assert time.monotonic() - started < 5
        assert parser.parse(good) == [Section("still fine")]
