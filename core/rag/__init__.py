"""Chat with local documents: parse, chunk, embed, store and retrieve (no Qt, no torch at import).

The public API is `DocumentLibrary`; the rest is exposed for tests, benchmarks and the GUI's
Sources pane. Names load on first use, so the window can read the light modules (grounding's
plain data) without numpy and SQLite coming along at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy_names import lazy_getattr

if TYPE_CHECKING:
    from core.rag.errors import IndexingError, UnknownCollection
    from core.rag.index_store import CollectionInfo, DocumentInfo
    from core.rag.library import DocumentLibrary, IndexProgress, IndexSummary
    from core.rag.retrieve import Hit

_HOMES = {
    "IndexingError": "core.rag.errors", "UnknownCollection": "core.rag.errors",
    "CollectionInfo": "core.rag.index_store", "DocumentInfo": "core.rag.index_store",
    "DocumentLibrary": "core.rag.library", "IndexProgress": "core.rag.library",
    "IndexSummary": "core.rag.library", "Hit": "core.rag.retrieve",
}

__all__ = ["CollectionInfo", "DocumentInfo", "DocumentLibrary", "Hit", "IndexProgress",
           "IndexSummary", "IndexingError", "UnknownCollection"]


__getattr__ = lazy_getattr(globals(), _HOMES)
