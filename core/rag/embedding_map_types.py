"""Plain data the embedding maps return, and their defaults.

No numpy import at module level, so the GUI can import these types for free; the arrays
inside come from numpy, loaded by the time one exists (on a worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

MAX_SENTENCES = 200
MAX_POINTS = 4000  # chunks drawn on a map; neighbours of the query are always among them
DEFAULT_NEIGHBOURS = 5

DEFAULT_SENTENCES = (
    "The cat sat on the warm windowsill.",
    "A kitten was sleeping in the sun by the window.",
    "Dogs love to chase balls in the park.",
    "The stock market fell sharply this morning.",
    "Shares dropped after the central bank raised interest rates.",
    "How do I bake sourdough bread at home?",
    "Mix flour, water and starter, then let the dough rise overnight.",
    "The football team won the championship final.",
    "Quantum computers use qubits instead of bits.",
    "A qubit can be in a superposition of zero and one.",
)


@dataclass(frozen=True)
class SentenceMap:
    sentences: list[str]
    similarity: np.ndarray  # float32 [n][n], cosine; 1 on the diagonal
    coords: np.ndarray  # float64 [n][2], PCA of the sentence vectors
    explained: tuple[float, float]  # share of the variance each axis keeps


@dataclass(frozen=True)
class CollectionMap:
    collection: str
    chunk_ids: np.ndarray  # int64 [n], the chunks drawn
    coords: np.ndarray  # float64 [n][2]
    document: np.ndarray  # int [n], index into `documents`
    documents: list[str]  # paths, in the order of their colours
    explained: tuple[float, float]
    total_chunks: int  # in the collection (more than n when the map is a sample)
    query: str = ""
    query_coords: np.ndarray | None = None  # float64 [2]
    neighbours: list[int] | None = None  # indices into the drawn points, nearest first
    neighbour_similarity: list[float] | None = None  # cosine of each with the query


@dataclass(frozen=True)
class ChunkDetail:
    chunk_id: int
    collection: str
    path: str
    page: int | None
    heading: str | None
    text: str

    @property
    def file_name(self) -> str:
        return Path(self.path).name
