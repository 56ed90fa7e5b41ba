"""Glassbox's own API additions against a real server: chat grounded in a real collection
(through the official `openai` client), collection search, per-token surprise, and the
request log that shows the exact prompt a program sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from core.rag.library import DocumentLibrary
from core.server.local_server import LocalServer

SAMPLE_DOCS = Path(__file__).resolve().parents[2] / "resources" / "sample_docs"
FILES = ["04-sampling.md", "05-retrieval.md"]
QUESTION = "What does the temperature setting do when sampling?"


@pytest.fixture(scope="module")
def collection(module_home: Path) -> str:
    """A small real collection, indexed with the real embedder into the server's folder."""
    with DocumentLibrary() as library:
        library.add_paths("learn", [SAMPLE_DOCS / name for name in FILES])
        summary = library.index("learn")
    assert summary.indexed == len(FILES) and summary.failed == 0
    return "learn"


@pytest.fixture(scope="module")
def client(server: LocalServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused")


@pytest.fixture(scope="module")
def model(server: LocalServer) -> str:
    assert server.pool is not None
    return server.pool.name


@pytest.fixture(scope="module")
def http(server: LocalServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=120)


def _cited_files(citations: list[dict]) -> set[str]:
    return {Path(c["path"]).name for c in citations}


def test_chat_with_a_collection_returns_its_citations(client: openai.OpenAI, model: str,
                                                      collection: str,
                                                      server: LocalServer) -> None:
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=40,
        extra_body={"collections": [collection]})
    assert reply.choices[0].message.content
    extra = reply.model_extra["glassbox"]  # type: ignore[index]
    citations = extra["citations"]
    assert citations, "the collection holds passages about sampling"
    assert _cited_files(citations) <= set(FILES)
    assert "04-sampling.md" in _cited_files(citations)
    assert [c["number"] for c in citations] == list(range(1, len(citations) + 1))
    assert {"page", "heading", "score", "text", "cited", "quotes"} <= set(citations[0])
    # The model read the passages: the logged prompt holds the first one's text, numbered.
    record = next(r for r in server.log.recent() if r.path == "/v1/chat/completions")
    assert "[1] " in record.prompt and citations[0]["text"].strip()[:40] in record.prompt


def test_streamed_chat_sends_citations_last(client: openai.OpenAI, model: str,
                                           collection: str) -> None:
    chunks = list(client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=20,
        stream=True, extra_body={"collections": [collection]}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
    last = chunks[-1]
    assert last.choices == []
    assert "04-sampling.md" in _cited_files(last.model_extra["glassbox"]["citations"])  # type: ignore[index]
    assert all("glassbox" not in (c.model_extra or {}) for c in chunks[:-1])


def test_an_unknown_collection_is_a_404(client: openai.OpenAI, model: str,
                                        collection: str) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": QUESTION}],
            extra_body={"collections": ["nowhere"]})
    assert "nowhere" in str(caught.value)


def test_collections_and_search(http: httpx.Client, collection: str) -> None:
    listed = http.get("/v1/glassbox/collections").json()["data"]
    learn = next(c for c in listed if c["name"] == collection)
    assert learn["documents"] == len(FILES) and learn["chunks"] > 0
    found = http.post("/v1/glassbox/search", json={
        "query": "temperature divides the logits", "collections": [collection],
        "top_k": 3}).json()["data"]
    assert 1 <= len(found) <= 3
    assert [hit["rank"] for hit in found] == list(range(1, len(found) + 1))
    assert [hit["score"] for hit in found] == sorted((h["score"] for h in found), reverse=True)
    assert found[0]["file"] == "04-sampling.md"
    assert {"page", "heading", "text"} <= set(found[0])
    missing = http.post("/v1/glassbox/search", json={"query": "x", "collections": ["nope"]})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    blank = http.post("/v1/glassbox/search", json={"query": ""})
    assert blank.status_code == 400


def test_surprise_scores_every_token(http: httpx.Client, server: LocalServer) -> None:
    text = "The cat sat on the mat."
    answer = http.post("/v1/glassbox/surprise", json={"text": text, "top": 3}).json()
    tokens = answer["tokens"]
    assert server.pool is not None and server.pool.info is not None
    with httpx.Client(base_url=server.url) as raw:
        assert raw.get("/health").json()["model"] == server.pool.name
    assert "".join(t["token"] for t in tokens) == text
    first, scored = tokens[0], tokens[1:]
    assert first["logprob"] is None and first["token"] == "The"  # nothing came before it
    assert scored and all(t["logprob"] < 0 for t in scored)
    assert all(len(t["top"]) == 3 for t in scored)
    assert answer["perplexity"] > 1
    in_chat = http.post("/v1/glassbox/surprise", json={
        "text": "Paris.", "context": [{"role": "user", "content": "Capital of France?"}]})
    assert in_chat.status_code == 200
    assert all(t["logprob"] < 0 for t in in_chat.json()["tokens"])  # the template predicts all
    assert http.post("/v1/glassbox/surprise", json={"text": ""}).status_code == 400


def test_request_log_shows_the_exact_prompt(client: openai.OpenAI, model: str,
                                            http: httpx.Client) -> None:
    client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "Hello there, log."}],
        max_tokens=5)
    recent = http.get("/v1/glassbox/requests").json()["data"]
    mine = next(r for r in recent if r["path"] == "/v1/chat/completions")
    assert mine["status"] == 200 and mine["inspectable"] and "prompt" not in mine
    full = http.get(f"/v1/glassbox/requests/{mine['id']}").json()
    assert full["messages"][-1]["content"] == "Hello there, log."
    assert "<|im_start|>system\nBe brief.<|im_end|>" in full["prompt"]
    assert full["prompt"].rstrip().endswith("<|im_start|>assistant")
    assert full["reply"] and full["completion_tokens"] >= 1
    missing = http.get("/v1/glassbox/requests/999999")
    assert missing.status_code == 404 and missing.json()["error"]["message"]
