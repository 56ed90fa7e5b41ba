"""Embedding maps: sentences, a document collection, and the chat model's token embeddings."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from ui.learn.embedding_maps_documents_view import EmbeddingMapsDocumentsView
from ui.learn.embedding_maps_sentences_view import EmbeddingMapsSentencesView
from ui.learn.embedding_maps_tokens_view import EmbeddingMapsTokensView


class EmbeddingMapsPanel(QTabWidget):
    """Three maps, one tab each; EmbeddingMapsController connects their signals."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDocumentMode(True)
        self.sentences = EmbeddingMapsSentencesView()
        self.documents = EmbeddingMapsDocumentsView()
        self.tokens = EmbeddingMapsTokensView()
        self.addTab(self.sentences, "Sentences")
        self.addTab(self.documents, "Documents")
        self.addTab(self.tokens, "Token embeddings")
        self.setTabToolTip(0, "How similar the embedding model finds sentences you type")
        self.setTabToolTip(1, "A document collection's chunks and a query, placed by meaning")
        self.setTabToolTip(2, "Which tokens the chat model's own embedding puts near a word")
