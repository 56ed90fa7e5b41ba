"""Will the selected model fit? This computer's memory, a bar of what the model needs, a verdict.

The bar is painted here: weights, KV cache and buffers side by side against the RAM budget, so
a glance shows which part grows with the context length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core.models.metadata import format_bytes
from ui.theme import mark_secondary, readable

if TYPE_CHECKING:
    from core.models.hardware import FitReport, HardwareInfo

PART_COLORS = (QColor("#3b7dd8"), QColor("#e0962c"), QColor("#9a9a9a"))  # weights, KV, buffers
VERDICT_COLORS = {"fits": QColor("#2e9b4f"), "tight": QColor("#d08a14"),
                  "too big": QColor("#d9382c")}


class MemoryBarView(QWidget):
    """Stacked parts (bytes) against a budget line; the scale fits whichever is larger."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts: list[int] = []
        self.budget: int | None = None
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_parts(self, parts: list[int], budget: int | None) -> None:
        self.parts = parts
        self.budget = budget
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = QRectF(self.rect()).adjusted(1, 3, -1, -3)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.palette().alternateBase())
        painter.drawRoundedRect(area, 3, 3)
        scale = max(sum(self.parts), self.budget or 0) or 1
        x = area.left()
        for size, color in zip(self.parts, PART_COLORS, strict=False):
            width = area.width() * size / scale
            painter.setBrush(color)
            painter.drawRect(QRectF(x, area.top(), width, area.height()))
            x += width
        if self.budget:
            bx = area.left() + area.width() * self.budget / scale
            painter.setPen(QPen(self.palette().text().color(), 2))
            painter.drawLine(int(bx), int(area.top()) - 3, int(bx), int(area.bottom()) + 3)
        painter.end()


class FitView(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        heading = QLabel("Will it fit?")
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        self.hardware = QLabel("Looking at this computer…", wordWrap=True)
        self.model = QLabel(textFormat=Qt.TextFormat.PlainText, wordWrap=True)
        self.bar = MemoryBarView()
        self.legend = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.verdict = QLabel(textFormat=Qt.TextFormat.PlainText)
        big = self.verdict.font()
        big.setBold(True)
        big.setPointSizeF(big.pointSizeF() * 1.15)
        self.verdict.setFont(big)
        # Beyond the trained context: fits in memory, still not a good idea; said in words.
        self.warning = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.warning.hide()
        self.message = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        mark_secondary(self.message)  # quieter, still AA
        self._shown_fit: tuple[str, FitReport | None, int | None] | None = None
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 8, 10, 8)
        for widget in (heading, self.hardware, self.model, self.bar, self.legend, self.verdict,
                       self.warning, self.message):
            column.addWidget(widget)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._shown_fit:
            QTimer.singleShot(0, self, self._redraw)  # once the new palette has settled

    def _redraw(self) -> None:
        if self._shown_fit:
            self.set_fit(*self._shown_fit)

    def set_hardware(self, hw: HardwareInfo) -> None:
        ram = (f"{format_bytes(hw.ram_total)} RAM ({format_bytes(hw.ram_available)} free)"
               if hw.ram_total else "RAM unknown")
        gpu = hw.gpu_backend if hw.gpu_offload else "no GPU offload (CPU build)"
        if hw.gpu_name:
            gpu += f", {hw.gpu_name}"
        if hw.vram_total:
            gpu += f", {format_bytes(hw.vram_free)} of {format_bytes(hw.vram_total)} VRAM free"
        self.hardware.setText(f"{ram} · {hw.cpu_threads} CPU threads · {gpu}")

    def set_fit(self, model_name: str, report: FitReport | None, budget: int | None) -> None:
        self._shown_fit = (model_name, report, budget)  # drawn again in a new palette
        if report is None:
            self.model.setText(model_name)
            self.bar.set_parts([], None)
            self.legend.setText("")
            self.verdict.setText("")
            self.warning.hide()
            self.message.setText("")
            return
        e = report.estimate
        self.model.setText(f"{model_name} at {e.n_ctx:,} tokens of context")
        self.bar.set_parts([e.weights, e.kv_cache or 0, e.overhead], budget)
        swatch = "<span style='color:{}'>■</span>&nbsp;{}&nbsp;{}"  # one unit: no break inside
        back = self.palette().color(QPalette.ColorRole.Window)
        colors = [readable(c, back, 3.0).name() for c in PART_COLORS]  # graphics: 3:1
        kv = format_bytes(e.kv_cache) if e.kv_cache is not None else "unknown"
        # "buffers 154.9 MB" stays on one line: the legend wraps between parts only
        size = {"weights": format_bytes(e.weights), "KV cache": kv,
                "buffers": format_bytes(e.overhead)}
        size = {k: v.replace(" ", "&nbsp;") for k, v in size.items()}
        parts = [swatch.format(colors[0], "weights", size["weights"]),
                 swatch.format(colors[1], "KV&nbsp;cache", size["KV cache"]),
                 swatch.format(colors[2], "buffers", size["buffers"])]
        if budget:
            parts.append(f"| budget {format_bytes(budget)}")
        self.legend.setText(" &nbsp; ".join(parts))
        warning = report.context_warning
        verdict = report.verdict
        if warning and report.fits:  # fits in memory, but not in what it was trained on
            verdict = "tight"
        color = readable(VERDICT_COLORS.get(verdict, QColor("#666666")), back)
        self.verdict.setStyleSheet(f"color: {color.name()};")
        beyond = " in memory, beyond its trained context" if warning else ""
        self.verdict.setText(f"{report.verdict.capitalize()}{beyond}: about "
                             f"{format_bytes(e.total)}")
        self.warning.setText(f"⚠ {warning}" if warning else "")
        self.warning.setVisible(bool(warning))
        self.message.setText(report.message[0].upper() + report.message[1:])
