"""Embedding maps on the real parts: all-MiniLM-L6-v2, a real indexed collection, SmolLM2's
token embedding matrix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core.engine.token_neighbours import TokenEmbeddings
from core.errors import GlassboxError, ModelLoadError, PromptError
from core.models.bundled import default_chat_model
from core.rag.embed import Embedder, default_embedder
from core.rag.embedding_map import (
    DEFAULT_SENTENCES,
    chunk_detail,
    collection_map,
    cosine_matrix,
    pca_2d,
    sentence_map,
)
from core.rag.errors import UnknownCollection
from core.rag.library import DocumentLibrary

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "resources" / "sample_docs"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    model = default_embedder()
    model.load()
    return model


@pytest.fixture(scope="module")
def embeddings() -> Iterator[TokenEmbeddings]:
    table = TokenEmbeddings(default_chat_model())
    yield table
    table.close()


@pytest.fixture
def indexed(embedder: Embedder) -> Iterator[DocumentLibrary]:
    """Four of the bundled guide's documents indexed into this test's GLASSBOX_HOME."""
    with DocumentLibrary(embedder=embedder) as library:
        paths = [SAMPLE_DOCS / n for n in ("01-tokens.md", "02-embeddings.md", "03-attention.md",
                                           "04-sampling.md")]
        library.add_paths("guide", paths)
        summary = library.index("guide")
        assert summary.indexed == 4 and summary.failed == 0
        yield library


# -- sentences ---------------------------------------------------------------------------------
def test_similar_sentences_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    result = sentence_map(list(DEFAULT_SENTENCES), embedder)
    sim = result.similarity
    n = len(DEFAULT_SENTENCES)
    assert sim.shape == (n, n) and np.allclose(np.diag(sim), 1.0, atol=1e-4)
    assert np.allclose(sim, sim.T, atol=1e-6)
    # 0/1: the cat and the kitten; 3/4: two market sentences; 8/9: qubits. 3 is about markets.
    assert sim[0, 1] > sim[0, 3] + 0.2
    assert sim[3, 4] > sim[3, 0] + 0.2
    assert sim[8, 9] > sim[8, 5] + 0.2
    assert result.coords.shape == (n, 2)
    assert 0 < result.explained[1] <= result.explained[0] < 1


def test_pca_keeps_the_nearest_pair_nearest(embedder: Embedder) -> None:
    sentences = ["I love my cat.", "I adore my kitten.", "Interest rates rose again.",
                 "The train to Berlin leaves at nine.", "Photosynthesis needs light."]
    result = sentence_map(sentences, embedder)
    off = result.similarity - 2 * np.eye(len(sentences))
    most_similar = np.unravel_index(np.argmax(off), off.shape)
    d = np.linalg.norm(result.coords[:, None, :] - result.coords[None, :, :], axis=2)
    d += np.eye(len(sentences)) * 1e9
    closest = np.unravel_index(np.argmin(d), d.shape)
    assert set(most_similar) == set(closest) == {0, 1}


def test_pca_of_points_on_a_line_keeps_them_in_order() -> None:
    direction = np.array([3.0, -1.0, 2.0, 0.5])
    points = np.outer([0.0, 1.0, 2.5, 4.0], direction)
    coords, explained = pca_2d(points)
    assert explained[0] == pytest.approx(1.0)
    gaps = np.diff(coords[:, 0])
    assert np.all(gaps > 0) or np.all(gaps < 0)
    assert np.allclose(np.abs(gaps), np.abs(np.diff([0.0, 1.0, 2.5, 4.0])) * 3.775, rtol=1e-3)
    assert np.allclose(cosine_matrix(points[1:])[0], 1.0, atol=1e-6)


def test_too_few_sentences_is_a_clear_error(embedder: Embedder) -> None:
    with pytest.raises(PromptError, match="at least two sentences"):
        sentence_map(["only one", "   ", ""], embedder)


# -- a collection ------------------------------------------------------------------------------
def test_collection_map_colours_documents_and_finds_the_query(indexed: DocumentLibrary,
                                                              embedder: Embedder) -> None:
    query = "What does the attention mechanism compute?"
    result = collection_map(indexed.store, "guide", embedder, query, k=4)
    n = len(result.chunk_ids)
    assert n == result.total_chunks == indexed.store.chunk_count(None) > 4
    assert result.coords.shape == (n, 2) and result.document.shape == (n,)
    assert [Path(p).name for p in result.documents] == ["01-tokens.md", "02-embeddings.md",
                                                        "03-attention.md", "04-sampling.md"]
    assert set(result.document.tolist()) == {0, 1, 2, 3}
    assert result.neighbours is not None and result.neighbour_similarity is not None
    assert len(result.neighbours) == 4
    assert result.neighbour_similarity == sorted(result.neighbour_similarity, reverse=True)
    # The nearest chunk is the one dense search ranks first, and it is about attention.
    hits = indexed.search(query, "guide", top_k=1, mode="dense")
    assert int(result.chunk_ids[result.neighbours[0]]) == hits[0].chunk_id
    assert result.documents[result.document[result.neighbours[0]]].endswith("03-attention.md")
    detail = chunk_detail(indexed.store, int(result.chunk_ids[result.neighbours[0]]))
    assert detail.file_name == "03-attention.md" and detail.collection == "guide"
    assert "attention" in detail.text.lower()
    assert result.query_coords is not None and result.query_coords.shape == (2,)


def test_a_large_collection_is_sampled_but_keeps_the_neighbours(indexed: DocumentLibrary,
                                                                 embedder: Embedder) -> None:
    full = collection_map(indexed.store, "guide", embedder, "sampling temperature", k=3)
    small = collection_map(indexed.store, "guide", embedder, "sampling temperature", k=3,
                           max_points=6)
    assert len(small.chunk_ids) <= 6 < small.total_chunks
    assert small.neighbours is not None and full.neighbours is not None
    assert [int(small.chunk_ids[i]) for i in small.neighbours] == \
        [int(full.chunk_ids[i]) for i in full.neighbours]


def test_unknown_collection_and_missing_chunk(indexed: DocumentLibrary,
                                              embedder: Embedder) -> None:
    with pytest.raises(UnknownCollection, match="no collection named 'nope'"):
        collection_map(indexed.store, "nope", embedder, "x")
    with pytest.raises(UnknownCollection, match="no longer in the index"):
        chunk_detail(indexed.store, 10**9)


# -- token embeddings of the chat model ---------------------------------------------------------
def test_a_numbers_neighbours_are_numbers(embeddings: TokenEmbeddings) -> None:
    view = embeddings.neighbours("7", k=10)
    assert [p for _, p in view.tokens] == ["7"]
    pieces = [n.piece.strip() for n in view.neighbours]
    assert "7" not in pieces  # the word itself is left out
    assert sum(p.isdigit() for p in pieces) >= 8
    sims = [n.similarity for n in view.neighbours]
    assert sims == sorted(sims, reverse=True) and -1 <= sims[-1] <= sims[0] <= 1
    assert view.coords.shape == (11, 2) and view.n_embd == 576


def test_a_word_is_looked_up_with_its_leading_space(embeddings: TokenEmbeddings) -> None:
    view = embeddings.neighbours("king", k=8)
    assert view.word == " king" and [p for _, p in view.tokens] == [" king"]
    pieces = {n.piece.strip().lower() for n in view.neighbours}
    assert pieces & {"queen", "kings", "prince", "emperor"}
    bare = embeddings.neighbours("king", k=8, leading_space=False)
    assert bare.word == "king" and bare.tokens[0][0] != view.tokens[0][0]


def test_a_word_of_several_tokens_uses_their_mean(embeddings: TokenEmbeddings) -> None:
    view = embeddings.neighbours("unbelievably", k=5)
    assert len(view.tokens) >= 2
    own = {t for t, _ in view.tokens}
    assert not own & {n.id for n in view.neighbours}


def test_bad_lookups_are_clear_errors(embeddings: TokenEmbeddings, tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="Type a word"):
        embeddings.neighbours("   ")
    with pytest.raises(GlassboxError, match="1 to 200"):
        embeddings.neighbours("cat", k=0)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        TokenEmbeddings(bad)
