"""Word documents end to end: real .docx files written by python-docx, the real parser process,
the real embedding model and store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import docx
import pytest

from core.rag.errors import IndexingError
from core.rag.library import DocumentLibrary
from core.rag.parse import Section, is_supported, parse_file
from core.rag.parse_worker import ParserProcess

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def write_report(path: Path) -> Path:
    """Text before any heading, two headed parts, a table with a merged cell, Unicode."""
    document = docx.Document()
    document.add_paragraph("Prepared for the guild of Zürich — a naïve first draft.")
    document.add_heading("Überblick", level=1)
    document.add_paragraph("The workshop blows glass by hand; every piece is signed.")
    document.add_heading("Inventory", level=2)
    document.add_paragraph("Stock counted on the first of the month:")
    table = document.add_table(rows=3, cols=3)
    for col, text in enumerate(["Item", "Colour", "Count"]):
        table.cell(0, col).text = text
    for col, text in enumerate(["Storm lantern", "Amber glass", "42"]):
        table.cell(1, col).text = text
    table.cell(2, 0).merge(table.cell(2, 1)).text = "Candle wicks in cotton"
    table.cell(2, 2).text = "900"
    document.add_paragraph("Counts are checked twice a year.")
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


def test_headings_split_sections_and_tables_stay_in_order(tmp_path: Path) -> None:
    sections = parse_file(write_report(tmp_path / "report.docx"))
    assert [s.heading for s in sections] == [None, "Überblick", "Inventory"]
    assert sections[0] == Section("Prepared for the guild of Zürich — a naïve first draft.")
    assert sections[2].text.splitlines() == [
        "Inventory",
        "Stock counted on the first of the month:",
        "Item | Colour | Count",
        "Storm lantern | Amber glass | 42",
        "Candle wicks in cotton | 900",  # the merged cell once, not twice
        "Counts are checked twice a year.",
    ]


def test_docx_indexes_and_search_finds_table_text_under_its_heading(
        library: DocumentLibrary, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_report(folder / "sub" / "report.docx")
    (folder / "notes.md").write_text("# Notes\nQuantization stores weights with fewer bits.\n",
                                     encoding="utf-8")
    library.add_paths("docs", [folder])
    summary = library.index("docs")
    assert (summary.indexed, summary.failed) == (2, 0)
    hit = library.search("how many candle wicks in cotton", "docs", top_k=1)[0]
    assert hit.path.endswith("report.docx") and hit.heading == "Inventory"
    assert "Storm lantern | Amber glass | 42" in hit.text and hit.page is None
    assert hit.vector_rank == 1 and hit.bm25_rank == 1  # both retrievers see the table text
    unicode_hit = library.search("Zürich", "docs", mode="bm25")[0]
    # The short text before any heading is packed with what follows it (issue 17's chunker),
    # so the passage is found by its Unicode word, under the heading of most of its text.
    assert unicode_hit.path.endswith("report.docx") and "Zürich" in unicode_hit.text


def test_bad_docx_files_fail_with_their_reason_and_the_rest_indexes(
        library: DocumentLibrary, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    good = write_report(folder / "good.docx").read_bytes()
    (folder / "corrupt.docx").write_bytes(good[: len(good) // 2])  # a truncated zip
    (folder / "old.docx").write_bytes(OLE_MAGIC + bytes(1024))  # a Word 97 file, renamed
    # what Word writes for a password: an OLE file holding EncryptionInfo + EncryptedPackage
    (folder / "locked.docx").write_bytes(
        OLE_MAGIC + bytes(512) + "EncryptionInfo".encode("utf-16-le") + bytes(50)
        + "EncryptedPackage".encode("utf-16-le") + bytes(512))
    docx.Document().save(str(folder / "empty.docx"))
    (folder / "not-a-zip.docx").write_text("plain text with a .docx name", encoding="utf-8")
    (folder / "~$good.docx").write_bytes(b"\x05owner" + bytes(150))  # Word's lock file
    library.add_paths("docs", [folder])
    summary = library.index("docs")
    assert (summary.indexed, summary.failed) == (1, 5)
    errors = {Path(d.path).name: d.error for d in library.documents("docs")}
    assert "~$good.docx" not in errors  # a lock file is not a document at all
    assert errors["good.docx"] is None
    assert "damaged" in (errors["corrupt.docx"] or "")
    assert "old .doc file" in (errors["old.docx"] or "")
    assert "encrypted with a password" in (errors["locked.docx"] or "")
    assert "holds no text" in (errors["empty.docx"] or "")
    assert "not a zip archive" in (errors["not-a-zip.docx"] or "")
    assert library.search("amber glass", "docs", mode="bm25")[0].path.endswith("good.docx")


def test_a_spreadsheet_renamed_to_docx_is_refused(tmp_path: Path) -> None:
    import zipfile

    source = write_report(tmp_path / "real.docx")
    fake = tmp_path / "sheet.docx"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(fake, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"wordprocessingml.document.main", b"spreadsheetml.sheet.main")
            out.writestr(info, data)
    with ParserProcess(time_limit_s=30) as parser:
        with pytest.raises(IndexingError, match="not a Word document"):
            parser.parse(fake)
        assert parser.parse(source)[1].heading == "Überblick"  # the same child goes on


def test_lock_files_are_not_a_supported_kind() -> None:
    assert is_supported(Path("a/report.docx")) and is_supported(Path("REPORT.DOCX"))
    assert not is_supported(Path("a/~$report.docx")) and not is_supported(Path("a/report.doc"))


def test_importing_the_parser_modules_does_not_load_python_docx() -> None:
    """Only the parser process needs python-docx and lxml; the window's start path must not."""
    code = ("import sys, core.rag.parse, core.rag.parse_worker, core.rag.watch; "
            "print(sorted(m for m in ('docx', 'lxml', 'pypdf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2]).stdout.strip()
    assert out == "[]"
