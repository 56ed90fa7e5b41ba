"""Chat with local documents: parse, chunk, embed, store and retrieve (no Qt, no torch at import).

The public API is `DocumentLibrary`; the rest is exposed for tests, benchmarks and the GUI's
Sources pane.
"""

from core.rag.errors import IndexingError, UnknownCollection
from core.rag.index_store import CollectionInfo, DocumentInfo
from core.rag.library import DocumentLibrary, IndexProgress, IndexSummary
from core.rag.retrieve import Hit

__all__ = ["CollectionInfo", "DocumentInfo", "DocumentLibrary", "Hit", "IndexProgress",
           "IndexSummary", "IndexingError", "UnknownCollection"]
