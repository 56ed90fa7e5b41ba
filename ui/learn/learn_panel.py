"""The Learn area: tokenizer, next token, surprise, attention, logit lens, embedding maps,
anatomy, the quantization lab, the fine-tune lab, the agent trace, steering, attribution, the
boundary playground and the tiny transformer; one tab each."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QTabWidget, QWidget

from core.api import SamplingSettings
from core.models.bundled import COMPARISON_BASE_ID
from ui.learn.agent_trace_panel import AgentTracePanel
from ui.learn.anatomy_panel import AnatomyPanel
from ui.learn.attention_panel import AttentionPanel
from ui.learn.attribution_panel import AttributionPanel
from ui.learn.boundary_panel import BoundaryPanel
from ui.learn.embedding_maps_panel import EmbeddingMapsPanel
from ui.learn.finetune_panel import FinetunePanel
from ui.learn.lens_panel import LensPanel
from ui.learn.next_token_panel import NextTokenPanel
from ui.learn.quant_lab_panel import QuantLabPanel
from ui.learn.steering_panel import SteeringPanel
from ui.learn.surprise_panel import SurprisePanel
from ui.learn.tiny_gpt_panel import TinyGptPanel
from ui.learn.tokenizer_panel import TokenizerPanel

_OPEN = "open"


class LearnPanel(QTabWidget):
    """Holds the panels; the Learn controller connects their signals to the engine worker."""

    comparison_changed = Signal(str)  # a model path, COMPARISON_BASE_ID, or "" for none

    def __init__(self, settings: SamplingSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tokenizer = TokenizerPanel()
        self.next_token = NextTokenPanel(settings)
        self.surprise = SurprisePanel()
        self.addTab(self.tokenizer, "Tokenizer")
        self.addTab(self.next_token, "Next token")
        self.addTab(self.surprise, "Surprise")
        self.attention = AttentionPanel()
        self.lens = LensPanel()
        self.maps = EmbeddingMapsPanel()
        self.anatomy = AnatomyPanel()
        self.quant_lab = QuantLabPanel()
        self.addTab(self.attention, "Attention")
        self.addTab(self.lens, "Logit lens")
        self.addTab(self.maps, "Embedding maps")
        self.addTab(self.anatomy, "Anatomy")
        self.addTab(self.quant_lab, "Quantization lab")
        self.finetune = FinetunePanel()
        self.addTab(self.finetune, "Fine-tune lab")
        self.agent_trace = AgentTracePanel()
        self.addTab(self.agent_trace, "Agent trace")
        self.steering = SteeringPanel()
        self.addTab(self.steering, "Steering")
        self.attribution = AttributionPanel()
        self.addTab(self.attribution, "Attribution")
        self.boundary = BoundaryPanel()
        self.addTab(self.boundary, "Boundary playground")
        self.tiny_gpt = TinyGptPanel()
        self.addTab(self.tiny_gpt, "Tiny transformer")
        self.compare_box = QComboBox()
        self.compare_box.setToolTip("A second model for the tokenizer and surprise views")
        self.compare_box.addItem("no second model", "")
        self.compare_box.addItem("Gemma 3 270M base (bundled)", COMPARISON_BASE_ID)
        self.compare_box.addItem("Open GGUF file…", _OPEN)
        self.compare_box.activated.connect(self._on_compare_chosen)
        corner = QWidget()
        row = QHBoxLayout(corner)
        row.setContentsMargins(0, 0, 4, 0)
        row.addWidget(QLabel("Compare with:"))
        row.addWidget(self.compare_box)
        self.setCornerWidget(corner)
        # Only the tokenizer and surprise views use a second model: elsewhere it would do nothing.
        self.currentChanged.connect(self._on_tab_changed)
        self._on_tab_changed()

    def _on_tab_changed(self, *_: object) -> None:
        corner = self.cornerWidget()
        if corner is not None:
            corner.setVisible(self.currentWidget() in (self.tokenizer, self.surprise))

    def comparison(self) -> str:
        return str(self.compare_box.currentData())

    def comparison_name(self) -> str:
        return self.compare_box.currentText()

    def set_comparison(self, path: str) -> None:
        index = self.compare_box.findData(path)
        if index < 0:
            index = self.compare_box.count() - 1
            self.compare_box.insertItem(index, path.rsplit("/", 1)[-1], path)
        self.compare_box.setCurrentIndex(index)
        self.comparison_changed.emit(path)

    def _on_compare_chosen(self, index: int) -> None:
        choice = str(self.compare_box.itemData(index))
        if choice == _OPEN:
            path, _ = QFileDialog.getOpenFileName(self, "Compare with a model", "",
                                                  "GGUF models (*.gguf);;All files (*)")
            if not path:
                self.compare_box.setCurrentIndex(0)
                self.comparison_changed.emit("")
                return
            choice = path
        self.set_comparison(choice)

    def show_tokenizer(self) -> TokenizerPanel:
        self.setCurrentWidget(self.tokenizer)
        return self.tokenizer

    def show_next_token(self) -> NextTokenPanel:
        self.setCurrentWidget(self.next_token)
        return self.next_token

    def show_surprise(self) -> SurprisePanel:
        self.setCurrentWidget(self.surprise)
        return self.surprise

    def show_attention(self) -> AttentionPanel:
        self.setCurrentWidget(self.attention)
        return self.attention

    def show_lens(self) -> LensPanel:
        self.setCurrentWidget(self.lens)
        return self.lens

    def show_maps(self) -> EmbeddingMapsPanel:
        self.setCurrentWidget(self.maps)
        return self.maps

    def show_anatomy(self) -> AnatomyPanel:
        self.setCurrentWidget(self.anatomy)
        return self.anatomy

    def show_quant_lab(self) -> QuantLabPanel:
        self.setCurrentWidget(self.quant_lab)
        return self.quant_lab

    def show_finetune(self) -> FinetunePanel:
        self.setCurrentWidget(self.finetune)
        return self.finetune

    def show_agent_trace(self) -> AgentTracePanel:
        self.setCurrentWidget(self.agent_trace)
        return self.agent_trace

    def show_boundary(self) -> BoundaryPanel:
        self.setCurrentWidget(self.boundary)
        return self.boundary

    def show_tiny_gpt(self) -> TinyGptPanel:
        self.setCurrentWidget(self.tiny_gpt)
        return self.tiny_gpt

    def show_attribution(self) -> AttributionPanel:
        self.setCurrentWidget(self.attribution)
        return self.attribution
