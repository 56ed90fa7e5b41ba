"""Build resources/sample_docs/quantization.pdf from quantization.html (a dev tool, not shipped).

Needs headless Chromium (Debian: `apt-get install -y chromium`; version 122 or later, for the
PDF outline) and pypdf from the project's virtualenv, which checks the result. From the repo root:

    .venv/bin/python resources/sample_docs/source/build_pdf.py

Each `<h1>` starts a new page and becomes a bookmark, so the document index finds a heading for
every page. Commit the HTML and the PDF together.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "quantization.html"
TARGET = HERE.parent / "quantization.pdf"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("No Chromium found: install it (apt-get install -y chromium) and run again.")


def print_pdf(browser: str, source: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory() as profile:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                   f"--user-data-dir={profile}", "--no-pdf-header-footer",
                   "--generate-pdf-document-outline", f"--print-to-pdf={target}",
                   source.as_uri()]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


def check(target: Path) -> None:
    """Every page has text, and the outline names a heading on each page that starts one."""
    import pypdf

    reader = pypdf.PdfReader(target)
    titles = {}
    for item in reader.outline:
        if not isinstance(item, list):
            titles[reader.get_destination_page_number(item) + 1] = str(item.title)
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text() or ""
        if not text.strip():
            raise SystemExit(f"page {number} has no extractable text")
        heading = titles.get(number, "")
        print(f"page {number}: {len(text.split())} words  {heading}")
    if not titles:
        raise SystemExit("the PDF has no outline: is Chromium older than version 122?")


def main() -> None:
    print_pdf(find_browser(), SOURCE, TARGET)
    check(TARGET)
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes)")


if __name__ == "__main__":
    sys.exit(main())
