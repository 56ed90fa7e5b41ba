"""Real test documents: Markdown, HTML, text, and PDFs written byte by byte."""

from __future__ import annotations

from pathlib import Path

FREEDONIA = ("The capital of Freedonia is Zubrowka, a river town known for its glass "
             "lanterns and its seven bridges.")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page ('' makes a blank page)."""
    count = len(pages)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(
            f"{4 + 2 * i} 0 R".encode() for i in range(count)) + f"] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        content = (f"BT /F1 10 Tf 40 700 Td ({_escape(text)}) Tj ET".encode()
                   if text else b"")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content
                       + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
            .encode())
    return bytes(out)


def with_outline(pdf: bytes, items: list[tuple[str, int]]) -> bytes:
    """The PDF with bookmarks (title, 0-based page index), written by pypdf."""
    import io

    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    for title, page in items:
        writer.add_outline_item(title=title, page_number=page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def encrypted(pdf: bytes) -> bytes:
    import io

    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt("secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write_corpus(folder: Path) -> None:
    """A mixed folder: Markdown, HTML, text and a 3-page PDF, one with the Freedonia fact."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "guide.md").write_text(
        "# Tokens\nA language model reads text as tokens, pieces of words from a fixed "
        "vocabulary.\n\n## Attention\nAttention lets each position look at earlier positions "
        "and mix their information.\n", encoding="utf-8")
    (folder / "sampling.html").write_text(
        "<html><head><title>Sampling</title><style>p{color:red}</style>"
        "<script>var secret = 'scriptword';</script></head><body>"
        "<h1>Sampling</h1><p>Temperature divides the logits before the softmax.</p>"
        "<h2>Nucleus sampling</h2><p>Top-p keeps the smallest set of tokens whose "
        "probability adds up to p.</p></body></html>", encoding="utf-8")
    (folder / "notes.txt").write_text(
        "Quantization stores weights with fewer bits, trading a little accuracy for memory.",
        encoding="utf-8")
    sub = folder / "atlas"
    sub.mkdir()
    (sub / "atlas.pdf").write_bytes(make_pdf([
        "The atlas begins with a map of the northern mountains and their passes.",
        FREEDONIA,
        "The last chapter lists the islands of the southern sea.",
    ]))
