"""What the tiny model writes as it learns: one sample per N steps, newest at the top."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QWidget


class TinyGptSamplesView(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Samples")
        self.setPlaceholderText("Samples appear here: noise at step 0, then words as the "
                                "model learns.")
        self.samples: list[tuple[int, str, str]] = []

    def reset(self) -> None:
        self.samples = []
        self.clear()

    def add_sample(self, step: int, prompt: str, text: str) -> None:
        self.samples.append((step, prompt, text))
        rows = [f"<p><b>step {s}</b>: <i>{html.escape(p)}</i>{html.escape(t)}</p>"
                for s, p, t in reversed(self.samples)]
        self.setHtml("".join(rows))
