"""Turn one file into sections of text, each with its page (PDF) and heading.

Kinds: PDF, Word (.docx), HTML, Markdown and plain text. The heavy parsing libraries (pypdf,
python-docx with lxml) are imported inside their parser, so only the parser process loads them.

These functions read untrusted bytes and trust nothing; run them through
`core.rag.parse_worker.ParserProcess`, which gives each file a time and memory limit.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from core.rag.errors import IndexingError

MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class Section:
    """A run of text from one place in a document: one PDF page, or one headed section."""

    text: str
    page: int | None = None  # 1-based, PDFs only
    heading: str | None = None


def parse_file(path: Path) -> list[Section]:
    """Read `path` and return its non-empty sections. Raises IndexingError with the reason."""
    parser = parser_for(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise IndexingError(f"the file is too large ({size // 2**20} MB; the limit is "
                                f"{MAX_FILE_BYTES // 2**20} MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise IndexingError(f"the file cannot be read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise IndexingError("the file is empty")
    sections = [s for s in parser(data) if s.text.strip()]
    if not sections:
        raise IndexingError("the file holds no text")
    return sections


def parser_for(path: Path) -> Callable[[bytes], list[Section]]:
    """The parser for the file's kind, by suffix. Raises IndexingError for unsupported kinds."""
    try:
        return _PARSERS[path.suffix.lower()]
    except KeyError:
        kinds = ", ".join(sorted(_PARSERS))
        raise IndexingError(
            f"{path.suffix or 'files without a suffix'} is not a supported kind ({kinds})"
        ) from None


def is_supported(path: Path) -> bool:
    """Whether the file is a kind we parse. Office lock files (`~$report.docx`, written next to
    a document while Word has it open) carry the document's suffix but are not documents."""
    return path.suffix.lower() in _PARSERS and not path.name.startswith("~$")


def decode_text(data: bytes) -> str:
    """UTF-8 text (a BOM is allowed); binary data and other encodings are refused."""
    if b"\x00" in data[:8192]:
        raise IndexingError("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IndexingError(
            f"the file is not valid UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from exc


def parse_pdf(data: bytes) -> list[Section]:
    """One section per page with text; page numbers are 1-based; headings from the outline."""
    import pypdf  # imported here: only the parser process needs it
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if not data.lstrip().startswith(b"%PDF"):
        raise IndexingError("the file is not a PDF (no %PDF header)")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IndexingError("the PDF is encrypted with a password")
        headings = _outline_headings(reader)
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            sections.append(Section(_tidy(text), number, headings.get(number)))
    except (IndexingError, MemoryError):
        raise  # MemoryError: the parser process reports its memory limit
    except (FileNotDecryptedError, DependencyError) as exc:
        raise IndexingError(f"the PDF is encrypted and cannot be opened: {exc}") from exc
    except PdfReadError as exc:
        raise IndexingError(f"the PDF is damaged: {exc}") from exc
    except RecursionError as exc:
        raise IndexingError("the PDF is damaged: its structure nests too deeply") from exc
    except Exception as exc:  # pypdf raises many kinds on malformed files; all mean "damaged"
        raise IndexingError(f"the PDF is damaged ({type(exc).__name__}: {exc})") from exc
    if not any(s.text for s in sections):
        raise IndexingError(
            "the PDF has no text layer (a scan?); run OCR on it first, then add it again"
        )
    return sections


def _outline_headings(reader: object) -> dict[int, str]:
    """The heading in force on each page, from the PDF's bookmarks (empty if it has none)."""
    starts: dict[int, str] = {}

    def walk(items: list[object]) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item)
                continue
            try:
                page = reader.get_destination_page_number(item) + 1  # type: ignore[attr-defined]
            except Exception:  # a bookmark pointing nowhere is not worth failing the file
                continue
            title = str(getattr(item, "title", "") or "").strip()
            if title and page > 0:
                starts.setdefault(page, title)

    try:
        walk(reader.outline)  # type: ignore[attr-defined]
        count = len(reader.pages)  # type: ignore[attr-defined]
    except Exception:
        return {}
    headings: dict[int, str] = {}
    current: str | None = None
    for page in range(1, count + 1):
        current = starts.get(page, current)
        if current:
            headings[page] = current
    return headings


# Every OLE compound file starts with this; Word writes both old .doc files and
# password-protected .docx files (an encrypted package inside) in that format, never a zip.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DOCX_HEADING = re.compile(r"^Heading [1-9]$")


def parse_docx(data: bytes) -> list[Section]:
    """A section per Heading-styled paragraph (Heading 1 to 9), like Markdown's `#` headings;
    body paragraphs and table cells (a line per row) in document order."""
    if data.startswith(_OLE_MAGIC):
        # An encrypted .docx names its streams in UTF-16 in the compound file's directory
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise IndexingError("the document is encrypted with a password; save a copy "
                                "without the password and add that")
        raise IndexingError("this is an old .doc file, not a .docx; open it in Word or "
                            "LibreOffice and save it as .docx")
    if not data.startswith(b"PK"):
        raise IndexingError("the file is not a .docx (it is not a zip archive)")
    import zipfile

    import docx  # imported here: only the parser process needs it (and lxml with it)
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        sections = _docx_sections(document)
    except MemoryError:
        raise  # a zip bomb: the parser process reports its memory limit
    except (zipfile.BadZipFile, PackageNotFoundError) as exc:
        raise IndexingError("the .docx is damaged: it is not a readable zip archive") from exc
    except KeyError as exc:  # python-docx's way of saying a required part is missing
        raise IndexingError(f"the .docx is damaged: {exc.args[0] if exc.args else exc}") from exc
    except ValueError as exc:
        # python-docx refuses other Office files (a spreadsheet renamed to .docx) this way;
        # its message names the stream object, so keep only the content type it found
        kind = str(exc).partition("content type is ")[2]
        message = (f"the file is not a Word document (its content is {kind})" if kind
                   else f"the .docx is damaged (ValueError: {exc})")
        raise IndexingError(message) from exc
    except RecursionError as exc:
        raise IndexingError("the .docx is damaged: its structure nests too deeply") from exc
    except Exception as exc:  # lxml and python-docx raise many kinds on malformed parts
        raise IndexingError(f"the .docx is damaged ({type(exc).__name__}: {exc})") from exc
    if not any(s.text for s in sections):
        raise IndexingError("the document holds no text")
    return sections


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Word stores text boxes twice: in mc:Choice for current readers and mc:Fallback for old ones
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _docx_sections(document: Any) -> list[Section]:
    # style id -> name once, rather than a styles-part lookup per paragraph
    names = {s.style_id: s.name or "" for s in document.styles}
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    for element in _docx_blocks(document.element.body):
        if element.tag == _W + "tbl":
            lines.extend(_docx_table_lines(element))
            continue
        text = _docx_text(element)
        style = names.get(element.style, "") if element.style else ""
        if _DOCX_HEADING.match(style) and text.strip():
            sections.append(Section(_tidy("\n".join(lines)), None, heading))
            heading = " ".join(text.split())
            lines = [heading]
        else:
            lines.append(text)
    sections.append(Section(_tidy("\n".join(lines)), None, heading))
    return sections


def _docx_blocks(parent: Any) -> Iterator[Any]:
    """The paragraphs and tables under `parent`, in order; content controls (`w:sdt`, used
    for cover pages and tables of contents) are opened rather than skipped."""
    for child in parent.iterchildren():
        if child.tag in (_W + "p", _W + "tbl"):
            yield child
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _docx_blocks(content)


def _docx_text(element: Any) -> str:
    """The visible text under `element`: runs, hyperlinks, text boxes, tabs and breaks
    (deleted revisions are `w:delText` and field codes `w:instrText`, so both stay out)."""
    parts: list[str] = []
    for node in element.iterchildren():
        if node.tag == _W + "t":
            parts.append(node.text or "")
        elif node.tag == _W + "tab":
            parts.append("\t")
        elif node.tag in (_W + "br", _W + "cr"):
            parts.append("\n")
        elif node.tag != _MC_FALLBACK:
            parts.append(_docx_text(node))
    return "".join(parts)


def _docx_table_lines(table: Any) -> list[str]:
    """A line per row, cells joined by ' | '; a table nested in a cell follows its row."""
    lines: list[str] = []
    for row in table.iterchildren(_W + "tr"):
        cells: list[str] = []
        nested: list[str] = []
        for cell in row.iterchildren(_W + "tc"):
            texts: list[str] = []
            for block in _docx_blocks(cell):
                if block.tag == _W + "tbl":
                    nested.extend(_docx_table_lines(block))
                else:
                    texts.append(" ".join(_docx_text(block).split()))
            cells.append(" ".join(t for t in texts if t))
        if any(cells):
            lines.append(" | ".join(c for c in cells if c))
        lines.extend(nested)
    return lines


_MD_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def parse_markdown(data: bytes) -> list[Section]:
    """A section per ATX heading (`# ...`); each section's text starts with its heading."""
    sections: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    in_fence = False
    for line in decode_text(data).splitlines():
        if _MD_FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _MD_HEADING.match(line)
        if match:
            sections.append(Section(_tidy("\n".join(lines)), None, heading))
            heading = match.group(2).strip()
            lines = [heading]
        else:
            lines.append(line)
    sections.append(Section(_tidy("\n".join(lines)), None, heading))
    return sections


def parse_text(data: bytes) -> list[Section]:
    return [Section(_tidy(decode_text(data)))]


def parse_html(data: bytes) -> list[Section]:
    """A section per h1-h3 heading; script, style and similar are dropped."""
    collector = _HtmlSections()
    try:
        collector.feed(decode_text(data))
        collector.close()
    except IndexingError:
        raise
    except Exception as exc:  # html.parser is forgiving; this is a last resort
        raise IndexingError(f"the HTML cannot be parsed: {exc}") from exc
    collector.flush()
    return collector.sections


_HEADINGS = {"h1", "h2", "h3"}
_SKIPPED = {"script", "style", "noscript", "template", "svg"}
_BLOCKS = {"p", "div", "br", "li", "tr", "pre", "section", "article", "table", "dt", "dd",
           "blockquote", "h4", "h5", "h6", "ul", "ol", "dl", "hr"}


class _HtmlSections(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self._skip_depth = 0
        self._heading: str | None = None
        self._heading_parts: list[str] | None = None
        self._parts: list[str] = []
        self._title: list[str] | None = None
        self.title = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._title = []
        elif tag in _SKIPPED:
            self._skip_depth += 1
        elif tag in _HEADINGS and not self._skip_depth:
            self.flush()
            self._heading_parts = []
        elif tag in _BLOCKS:
            self._parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            self.title = " ".join("".join(self._title).split())
            self._title = None
        elif tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _HEADINGS and self._heading_parts is not None:
            heading = " ".join("".join(self._heading_parts).split())
            self._heading = heading or None
            self._heading_parts = None
            self._parts = [heading, "\n"]
        elif tag in _BLOCKS:
            self._parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)
        elif self._skip_depth:
            return
        elif self._heading_parts is not None:
            self._heading_parts.append(data)
        else:
            self._parts.append(data)

    def flush(self) -> None:
        text = _tidy("".join(self._parts))
        self.sections.append(Section(text, None, self._heading or self.title or None))
        self._parts = []


# Runs of whitespace other than line breaks that need rewriting: two or more, or a single tab
# and the like. A lone plain space is left alone, so that ordinary prose (one match per word
# otherwise) costs no replacement: a 100 MB line of words would take gigabytes.
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_LINE_EDGES = re.compile(r" \n ?|\n ")  # a space beside a line break
# What str.splitlines() counts as a line break, besides \n
_LINE_BREAKS = str.maketrans({c: "\n" for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def _tidy(text: str) -> str:
    """Collapse runs of spaces and blank lines; keep paragraph breaks."""
    # Regular expressions over the whole text, not a split per line: a 100 MB single line
    # split into words takes gigabytes, past the parser process's memory limit.
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    text = _LINE_EDGES.sub("\n", _SPACES.sub(" ", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_PARSERS: dict[str, Callable[[bytes], list[Section]]] = {
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".html": parse_html,
    ".htm": parse_html,
    ".xhtml": parse_html,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_text,
    ".text": parse_text,
    ".rst": parse_text,
}
