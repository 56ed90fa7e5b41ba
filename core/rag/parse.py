"""Turn one file into sections of text, each with its page (PDF) and heading.

These functions read untrusted bytes and trust nothing; run them through
`core.rag.parse_worker.ParserProcess`, which gives each file a time and memory limit.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

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
    return path.suffix.lower() in _PARSERS


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
    except IndexingError:
        raise
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


def _tidy(text: str) -> str:
    """Collapse runs of spaces and blank lines; keep paragraph breaks."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_PARSERS: dict[str, Callable[[bytes], list[Section]]] = {
    ".pdf": parse_pdf,
    ".html": parse_html,
    ".htm": parse_html,
    ".xhtml": parse_html,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_text,
    ".text": parse_text,
    ".rst": parse_text,
}
