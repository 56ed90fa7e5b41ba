"""The Ollama-compatible endpoints through the official `ollama` Python client (and raw HTTP
for what a client never sends), against a real server over the bundled model."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from core.server.local_server import LocalServer

QUESTION = [{"role": "user", "content": "Name one colour."}]


@pytest.fixture(scope="module")
def client(server: LocalServer) -> ollama.Client:
    return ollama.Client(host=server.url)


def test_list_and_show_describe_the_served_model(client: ollama.Client,
                                                 server: LocalServer) -> None:
    names = [m.model for m in client.list().models]
    assert server.pool is not None
    assert server.pool.name in names
    assert "all-minilm" in names
    shown = client.show(server.pool.name + ":latest")  # Ollama's tag form names it too
    assert shown.details is not None and shown.details.format == "gguf"
    assert "<|im_start|>" in (shown.template or "")  # the model's own chat template
    assert shown.modelinfo and shown.modelinfo["general.architecture"] == "llama"
    assert client.ps().models[0].context_length == server.pool.info.n_ctx  # type: ignore


def test_chat_streams_pieces_then_a_done_object(client: ollama.Client,
                                                server: LocalServer) -> None:
    parts = list(client.chat(server.pool.name, QUESTION, stream=True,  # type: ignore
                             options={"num_predict": 12, "seed": 1}))
    assert len(parts) >= 2
    assert all(not p.done for p in parts[:-1])
    last = parts[-1]
    assert last.done and last.done_reason in ("stop", "length")
    assert last.eval_count and 1 <= last.eval_count <= 12
    assert last.prompt_eval_count and last.prompt_eval_count > 5
    assert last.total_duration and last.total_duration > 0
    text = "".join(p.message.content or "" for p in parts)
    assert text.strip()


def test_chat_without_stream_is_one_object(client: ollama.Client, server: LocalServer) -> None:
    reply = client.chat(server.pool.name, QUESTION,  # type: ignore[union-attr]
                        options={"num_predict": 8})
    assert reply.done and reply.message.role == "assistant"
    assert reply.message.content
    assert reply.eval_count and reply.eval_count <= 8


def test_generate_templated_and_raw(client: ollama.Client, server: LocalServer) -> None:
    name = server.pool.name  # type: ignore[union-attr]
    templated = client.generate(name, "Say hello.", system="You are terse.",
                                options={"num_predict": 8, "temperature": 0})
    raw = client.generate(name, "Say hello.", raw=True,
                          options={"num_predict": 8, "temperature": 0})
    assert templated.response and raw.response is not None
    # The templated prompt is wrapped in the chat template (and carries the system prompt);
    # the raw one is the text alone: the templated prompt is read as many more tokens.
    assert templated.prompt_eval_count > raw.prompt_eval_count + 5  # type: ignore[operator]
    log = server.log.recent()
    assert any("<|im_start|>system\nYou are terse." in r.prompt for r in log)
    assert any(r.prompt == "Say hello." for r in log)


def test_format_json_answers_json(client: ollama.Client, server: LocalServer) -> None:
    reply = client.generate(server.pool.name, "Describe a cat as JSON.",  # type: ignore
                            format="json", options={"num_predict": 60, "temperature": 0})
    if reply.done_reason == "stop":
        json.loads(reply.response)
    else:  # cut by num_predict: still JSON as far as it went
        assert reply.response.lstrip().startswith(("{", "["))
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}},
              "required": ["ok"]}
    shaped = client.chat(server.pool.name, QUESTION, format=schema,  # type: ignore
                         options={"num_predict": 30})
    assert isinstance(json.loads(shaped.message.content or "")["ok"], bool)


def test_seed_reproduces_and_num_predict_limits(client: ollama.Client,
                                                server: LocalServer) -> None:
    name = server.pool.name  # type: ignore[union-attr]
    options = {"seed": 7, "temperature": 1.0, "num_predict": 20}
    first = client.generate(name, "Write a short poem.", options=options)
    second = client.generate(name, "Write a short poem.", options=options)
    assert first.response == second.response
    short = client.generate(name, "Write a long story.", options={"num_predict": 3})
    assert short.eval_count == 3 and short.done_reason == "length"


def test_embed_and_the_older_embeddings(client: ollama.Client) -> None:
    out = client.embed("all-minilm", ["a cat", "a dog"])
    assert len(out.embeddings) == 2 and len(out.embeddings[0]) == 384
    old = client.embeddings("all-minilm", "a cat")
    assert old.embedding == pytest.approx(out.embeddings[0], abs=1e-5)


def test_unknown_model_is_a_404_the_client_raises(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        client.chat("no-such-model", QUESTION)
    assert caught.value.status_code == 404
    assert "no-such-model" in caught.value.error


def test_malformed_bodies_get_ollama_errors(server: LocalServer) -> None:
    with httpx.Client(base_url=server.url) as http:
        broken = http.post("/api/chat", content=b"{not json",
                           headers={"Content-Type": "application/json"})
        assert broken.status_code == 400 and isinstance(broken.json()["error"], str)
        wrong = http.post("/api/generate", json={"model": "x", "prompt": 3,
                                                  "options": {"temperature": "hot"}})
        assert wrong.status_code == 400 and isinstance(wrong.json()["error"], str)
        bad_format = http.post("/api/generate", json={"prompt": "hi", "format": "yaml",
                                                       "model": server.pool.name})  # type: ignore
        assert bad_format.status_code == 400 and "format" in bad_format.json()["error"]
        assert http.get("/api/version").json()["version"]
