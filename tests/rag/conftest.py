"""Fixtures for the document pipeline: one real embedding model per session, real files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rag_files import write_corpus

from core.rag.chunk import Chunker
from core.rag.embed import Embedder, default_embedder
from core.rag.library import DocumentLibrary


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once; the CLI's default embedder is this same one."""
    model = default_embedder()
    model.load()
    return model


@pytest.fixture(scope="session")
def chunker() -> Chunker:
    return Chunker()


@pytest.fixture
def library(embedder: Embedder, chunker: Chunker) -> Iterator[DocumentLibrary]:
    with DocumentLibrary(embedder=embedder, chunker=chunker, parse_time_limit_s=30) as lib:
        yield lib


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    write_corpus(folder)
    return folder
