"""Connects the Embedding maps panel to its worker: the embedder, the index, token embeddings.

Everything heavy (the embedding model, which imports torch; SQLite reads; dequantizing a
token embedding matrix) runs on the lab worker thread. The panel's views only draw answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from core.api import database_path
from core.rag.embedding_map_types import DEFAULT_SENTENCES
from desktop.learn_lab_worker import LabHandle, LabProgress
from ui.learn.embedding_maps_panel import EmbeddingMapsPanel

if TYPE_CHECKING:
    from core.api import CollectionInfo
    from core.engine.token_neighbours import TokenEmbeddings
    from core.rag.embedding_map_types import ChunkDetail, CollectionMap, SentenceMap
    from core.rag.index_store import IndexStore


class EmbeddingMapsController(QObject):
    """`model_path_source()` gives the chat model's file (None before one is loaded);
    `model_name(path)` the name the rest of the window gives it, else the file's stem.

    Collections are read from the database when the controller starts and whenever the map
    is asked for; the window may also pass fresh lists to `on_collections`.
    """

    def __init__(self, panel: EmbeddingMapsPanel, show_error: Callable[[str], None],
                 model_path_source: Callable[[], str | None], parent: QObject | None = None,
                 db_path: Path | None = None,
                 model_name: Callable[[str], str] | None = None) -> None:
        super().__init__(parent)
        self._panel = panel
        self._show_error = show_error
        self._model_path = model_path_source
        self._model_name = model_name or (lambda path: Path(path).stem)
        self._db_path = db_path
        # Token embeddings per model path: used and closed on the worker thread only (the
        # last ones when the thread stops).
        self._tables: dict[str, TokenEmbeddings] = {}
        tables = self._tables
        self.handle = LabHandle("glassbox-embedding-maps", show_error, self,
                                close=lambda: _close_all(tables))
        self.worker_thread = self.handle.worker_thread
        panel.sentences.set_text(DEFAULT_SENTENCES)
        panel.sentences.map_requested.connect(self.map_sentences)
        panel.documents.map_requested.connect(self.map_collection)
        panel.documents.chunk_requested.connect(self.show_chunk)
        panel.documents.collections_refresh_requested.connect(self.refresh_collections)
        panel.tokens.neighbours_requested.connect(self.find_neighbours)

    def start(self) -> None:
        self.handle.start()
        self.refresh_collections()

    def stop(self) -> None:
        self.handle.stop()

    @property
    def busy(self) -> bool:
        return self.handle.busy

    # -- sentences --------------------------------------------------------------------------
    def map_sentences(self, lines: list[str]) -> None:
        view = self._panel.sentences
        view.set_busy(True, "Embedding the sentences (the model loads the first time)…")

        def job(_cancel: threading.Event, _progress: LabProgress) -> SentenceMap:
            from core.rag.embed import default_embedder
            from core.rag.embedding_map import sentence_map

            return sentence_map(lines, default_embedder())

        self.handle.call(job, view.show_map, self._failed(view))

    # -- a collection -----------------------------------------------------------------------
    def on_collections(self, collections: list[CollectionInfo]) -> None:
        """A fresh collection list (from the Documents tab): the ones with chunks to map."""
        self._panel.documents.set_collections([c.name for c in collections if c.chunks > 0])

    def refresh_collections(self) -> None:
        db_path = self._db_path

        def job(_cancel: threading.Event, _progress: LabProgress) -> list[CollectionInfo]:
            with _open_store(db_path) as store:
                return store.collections()

        self.handle.call(job, self.on_collections)

    def map_collection(self, collection: str, query: str, k: int) -> None:
        view = self._panel.documents
        view.set_busy(True, f"Mapping {collection}…")
        db_path = self._db_path

        def job(_cancel: threading.Event, _progress: LabProgress) -> CollectionMap:
            from core.rag.embed import default_embedder
            from core.rag.embedding_map import collection_map

            with _open_store(db_path) as store:
                return collection_map(store, collection, default_embedder(), query, k)

        self.handle.call(job, view.show_map, self._failed(view))

    def show_chunk(self, chunk_id: int) -> None:
        db_path = self._db_path

        def job(_cancel: threading.Event, _progress: LabProgress) -> ChunkDetail:
            from core.rag.embedding_map import chunk_detail

            with _open_store(db_path) as store:
                return chunk_detail(store, chunk_id)

        self.handle.call(job, self._panel.documents.show_chunk)

    # -- token embeddings of the chat model -------------------------------------------------
    def find_neighbours(self, word: str, k: int, leading_space: bool) -> None:
        view = self._panel.tokens
        path = self._model_path()
        if not path:
            self._show_error("Load a chat model first: token embeddings come from its file.")
            return
        name = self._model_name(path)  # the core names the file; the window, the model
        view.set_busy(True, f"Reading the token embeddings of {name}…")
        tables = self._tables

        def job(_cancel: threading.Event, _progress: LabProgress) -> Any:
            from core.engine.token_neighbours import TokenEmbeddings

            table = tables.get(path)
            if table is None:
                _close_all(tables)  # one matrix in memory at a time: the current model's
                table = tables[path] = TokenEmbeddings(path)
            return table.neighbours(word, k, leading_space)

        self.handle.call(job, lambda result: view.show_neighbours(replace(result, model=name)),
                         self._failed(view))

    def _failed(self, view: Any) -> Callable[[str], None]:
        def on_error(message: str) -> None:
            view.set_busy(False)
            self._show_error(message)

        return on_error


def _close_all(tables: dict[str, TokenEmbeddings]) -> None:
    for table in tables.values():
        table.close()
    tables.clear()


@contextmanager
def _open_store(db_path: Path | None) -> Iterator[IndexStore]:
    """The index store for one job, opened and closed on the worker thread that runs it."""
    from core.rag.index_store import IndexStore

    store = IndexStore(db_path or database_path())
    try:
        yield store
    finally:
        store.close()
