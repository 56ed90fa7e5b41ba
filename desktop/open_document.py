"""Open a cited document in the user's own viewer, at the cited page where the viewer allows.

The desktop's "open this file" call has no way to name a page, so for PDFs we first try the
viewers whose command lines take one; any other file, or no such viewer, goes to the desktop's
default application.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

# Viewer command -> its arguments for "open FILE at PAGE" (1-based page numbers).
_PAGE_VIEWERS: dict[str, list[str]] = {
    "okular": ["--page", "{page}", "{file}"],
    "evince": ["--page-index={page}", "{file}"],
    "zathura": ["--page={page}", "{file}"],
    "qpdfview": ["{file}#{page}"],
    "SumatraPDF": ["-page", "{page}", "{file}"],
}


def page_viewer_command(path: str, page: int) -> list[str] | None:
    """The command that opens `path` at `page` with a viewer found on PATH, or None."""
    for viewer, arguments in _PAGE_VIEWERS.items():
        found = shutil.which(viewer)
        if found:
            return [found, *(a.format(page=page, file=path) for a in arguments)]
    return None


def open_document(path: str, page: int | None = None) -> bool:
    """Open the file (at `page` for a PDF when a viewer can); False if nothing could."""
    if not Path(path).exists():
        return False
    if page is not None and path.lower().endswith(".pdf"):
        command = page_viewer_command(path, page)
        if command is not None:
            try:
                subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL,
                                 start_new_session=sys.platform != "win32")
                return True
            except OSError:
                pass  # a broken viewer install: the default application may still work
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))
