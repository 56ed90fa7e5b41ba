"""Hostile documents: malformed PDFs of the kinds behind pypdf's denial-of-service CVEs, and odd
text files. Every maker returns bytes; `make_pdf` and `encrypted` come from the RAG tests."""

from __future__ import annotations

import random
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rag"))

from rag_files import encrypted, make_pdf  # noqa: E402

GOOD_TEXT = "The harbour ledger lists seven bridges and one lantern for each of them."


def _pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF with the given object bodies (numbered from 1) and a correct xref table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root {root} 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


def _page_objects(content: bytes, extra_stream_keys: bytes = b"") -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        b"/Resources << /Font << /F1 3 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" " + extra_stream_keys + b">>\nstream\n"
        + content + b"\nendstream",
    ]


def zeros_bomb(gib: float = 1.5) -> bytes:
    """A zlib stream that inflates to `gib` GiB of zeros, built in milliseconds: one deflate
    block of 16 MiB of zeros repeated (full flushes make every block the same bytes)."""
    block = bytes(16 << 20)
    n = max(2, int(gib * 64))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeated = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    final = c.compress(block) + c.flush()
    adler = 1
    for _ in range(n):
        adler = zlib.adler32(block, adler)
    return b"\x78\xda" + repeated * (n - 1) + final + adler.to_bytes(4, "big")


def decompression_bomb_pdf() -> bytes:
    return _pdf(_page_objects(zeros_bomb(), b"/Filter /FlateDecode "))


def page_count_lie() -> bytes:
    """A page tree that claims two billion pages and lists itself as its own kid."""
    objects = _page_objects(b"BT /F1 10 Tf 40 700 Td (hello) Tj ET")
    objects[1] = b"<< /Type /Pages /Kids [2 0 R 4 0 R 2 0 R] /Count 2147483647 >>"
    return _pdf(objects)


def many_pages(count: int) -> bytes:
    return make_pdf([f"page {n} {GOOD_TEXT}" for n in range(count)])


def deep_nesting(depth: int = 200_000) -> bytes:
    objects = _page_objects(b"BT /F1 10 Tf 40 700 Td (deep) Tj ET")
    objects[3] = objects[3].replace(b">> >>", b">> /Deep " + b"[" * depth + b"]" * depth + b" >>")
    return _pdf(objects)


def deep_dictionaries(depth: int = 100_000) -> bytes:
    objects = _page_objects(b"BT /F1 10 Tf 40 700 Td (deep) Tj ET")
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R /X " + b"<< /A " * depth + b"1" \
        + b" >>" * depth + b" >>"
    return _pdf(objects)


def operator_flood() -> bytes:
    """A content stream of a million text operators: slow to extract, not a hang."""
    content = b"BT /F1 10 Tf 40 700 Td " + b"(x) Tj " * 1_000_000 + b"ET"
    return _pdf(_page_objects(zlib.compress(content), b"/Filter /FlateDecode "))


def xref_loop() -> bytes:
    good = make_pdf([GOOD_TEXT])
    start = good.rindex(b"startxref")
    return good[:start] + b"trailer\n<< /Prev 0 /Size 3 >>\nstartxref\n0\n%%EOF\n"


def named_pdfs(rng: random.Random, full: bool) -> dict[str, Callable[[], bytes]]:
    good = make_pdf([GOOD_TEXT, "second page " + GOOD_TEXT])
    return {
        "good.pdf": lambda: good,
        "random-bytes.pdf": lambda: rng.randbytes(rng.randint(10, 50_000)),
        "random-after-header.pdf": lambda: b"%PDF-1.4\n" + rng.randbytes(20_000),
        "header-only.pdf": lambda: b"%PDF-1.7\n",
        "encrypted.pdf": lambda: encrypted(good),
        "page-count-lie.pdf": page_count_lie,
        "deep-array-nesting.pdf": deep_nesting,
        "deep-dictionary-nesting.pdf": deep_dictionaries,
        "decompression-bomb.pdf": decompression_bomb_pdf,
        "operator-flood.pdf": operator_flood,
        "xref-loop.pdf": xref_loop,
        "many-pages.pdf": lambda: many_pages(3000 if full else 300),
    }


def truncated_pdfs(rng: random.Random, count: int) -> dict[str, bytes]:
    good = make_pdf([GOOD_TEXT, "second page", "third page " + GOOD_TEXT])
    return {f"cut-{n:04d}.pdf": good[:rng.randrange(1, len(good))] for n in range(count)}


def mutated_pdfs(rng: random.Random, count: int) -> dict[str, bytes]:
    good = bytearray(make_pdf([GOOD_TEXT, "second page " + GOOD_TEXT]))
    out = {}
    for n in range(count):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                data[at:at] = rng.choice([b"9999999999", b"-1", b"<<", b"[", b"R", b"0 0 R"])
            else:
                del data[at:at + rng.randint(1, 40)]
        out[f"mutant-{n:04d}.pdf"] = bytes(data)
    return out


def text_files(rng: random.Random, full: bool) -> dict[str, bytes]:
    line_mb = 100 if full else 4
    words = GOOD_TEXT.encode().split()
    line = b" ".join(rng.choice(words) for _ in range(line_mb * 2**20 // 6))
    return {
        "binary.txt": rng.randbytes(40_000),
        "nul-in-text.txt": b"hello\x00world" * 100,
        "invalid-utf8.txt": GOOD_TEXT.encode() + b"\xff\xfe\xc3\x28" + GOOD_TEXT.encode(),
        "latin1.md": "Café crème, façade, naïve.".encode("latin-1"),
        "empty.txt": b"",
        "only-spaces.md": b" \n\t\n   \n",
        f"single-line-{line_mb}mb.txt": line,
        "one-huge-word.txt": b"x" * (2 << 20),
        "deep-html.html": b"<div>" * 100_000 + GOOD_TEXT.encode() + b"</div>" * 100_000,
        "entity-bomb.html": (b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                             b"<p>&b;&b;&b; " + GOOD_TEXT.encode() + b"</p>"),
        "good.md": f"# Title\n\n{GOOD_TEXT}\n".encode(),
    }
