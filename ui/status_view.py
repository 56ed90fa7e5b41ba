"""Status bar content: state, model, speed, time to first token, context used."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget


class StatusView(QWidget):
    """Plain labels, formatted here; the numbers come from the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state_label = QLabel("Starting…")
        self.model_label = QLabel("No model")
        self.speed_label = QLabel()
        self.ttft_label = QLabel()
        self.context_label = QLabel()
        self.speed_label.setToolTip("Generation speed of the last chat reply")
        self.ttft_label.setToolTip("Time to first token of the last chat reply")
        self.context_label.setToolTip("Prompt and reply tokens of the last chat turn / "
                                      "context window")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(10)
        layout.addWidget(self.state_label)
        layout.addWidget(_separator())
        layout.addWidget(self.model_label)
        layout.addStretch(1)
        for label in (self.speed_label, self.ttft_label, self.context_label):
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            layout.addWidget(label)
        self.clear_stats()

    def set_state(self, text: str) -> None:
        self.state_label.setText(text)

    def set_model(self, name: str | None, n_ctx: int | None = None) -> None:
        if name is None:
            self.model_label.setText("No model")
        else:
            self.model_label.setText(name if n_ctx is None else f"{name} · {n_ctx} ctx")

    def set_stats(self, tokens_per_s: float, ttft_s: float, context_used: int,
                  n_ctx: int) -> None:
        self.speed_label.setText(f"{tokens_per_s:.1f} tokens/s")
        self.ttft_label.setText(f"first token {ttft_s:.2f} s")
        self.context_label.setText(f"{context_used} / {n_ctx} tokens")

    def set_chat_numbers_visible(self, visible: bool) -> None:
        """The last reply's speed and context belong to the Chat tab: hidden on the others."""
        for label in (self.speed_label, self.ttft_label, self.context_label):
            label.setVisible(visible)

    def chat_numbers_shown(self) -> bool:
        return not self.speed_label.isHidden()

    def clear_stats(self) -> None:
        for label in (self.speed_label, self.ttft_label, self.context_label):
            label.setText("")


def _separator() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.VLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line
