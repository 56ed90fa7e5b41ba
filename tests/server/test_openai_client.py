"""The official `openai` client against a real server on the bundled model: what a program
written for OpenAI does, and the errors it must get."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np
import openai
import pytest
from live_server import model_name

from core.server.local_server import LocalServer

HELLO = [{"role": "user", "content": "Write one sentence about the sea."}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city.",
    "parameters": {"type": "object",
                   "properties": {"city": {"type": "string", "maxLength": 30},
                                  "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"]}}}
ADD = {"type": "function", "function": {
    "name": "add", "description": "Add two whole numbers.",
    "parameters": {"type": "object",
                   "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                   "required": ["a", "b"]}}}


def chat(client: openai.OpenAI, server: LocalServer, **options: Any) -> Any:
    options.setdefault("messages", HELLO)
    options.setdefault("max_tokens", 12)
    return client.chat.completions.create(model=model_name(server), **options)


def test_models_lists_the_served_model(client: openai.OpenAI, server: LocalServer) -> None:
    models = client.models.list().data
    assert [m.id for m in models] == [model_name(server)]
    assert client.models.retrieve(model_name(server)).id == model_name(server)


def test_chat_reply_and_usage(client: openai.OpenAI, server: LocalServer) -> None:
    reply = chat(client, server, temperature=0)
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage is not None
    assert 0 < reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_stream_matches_the_reply_and_ends_with_usage(client: openai.OpenAI,
                                                      server: LocalServer) -> None:
    whole = chat(client, server, temperature=0)
    chunks = list(chat(client, server, temperature=0, stream=True,
                       stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices
                and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert last.usage.completion_tokens == whole.usage.completion_tokens


def test_stop_cuts_the_reply_before_the_stop_string(client: openai.OpenAI,
                                                    server: LocalServer) -> None:
    free = chat(client, server, temperature=0, max_tokens=16).choices[0].message.content
    words = free.split()
    assert len(words) >= 3, free
    stop = " " + words[2]
    cut = chat(client, server, temperature=0, max_tokens=16, stop=[stop]).choices[0]
    assert cut.finish_reason == "stop"
    assert cut.message.content == free[:free.index(stop)]


def test_same_seed_same_text(client: openai.OpenAI, server: LocalServer) -> None:
    def sample(seed: int) -> str:
        reply = chat(client, server, temperature=1.2, seed=seed)
        return str(reply.choices[0].message.content)

    first = sample(7)
    assert sample(7) == first
    assert len({first, sample(8), sample(9)}) > 1  # the seed is used, not ignored


def test_logprobs_with_twenty_alternatives(client: openai.OpenAI, server: LocalServer) -> None:
    reply = chat(client, server, temperature=0, max_tokens=6, logprobs=True, top_logprobs=20)
    tokens = reply.choices[0].logprobs.content
    assert len(tokens) == reply.usage.completion_tokens
    for token in tokens:
        alternatives = [a.logprob for a in token.top_logprobs]
        assert len(alternatives) == 20
        assert alternatives == sorted(alternatives, reverse=True)
        assert all(lp <= 0 for lp in alternatives)
        assert sum(math.exp(lp) for lp in alternatives) <= 1.0 + 1e-6
        # Greedy decoding picks the most likely token: the first alternative is the choice.
        assert token.top_logprobs[0].token == token.token
        assert token.top_logprobs[0].logprob == pytest.approx(token.logprob, abs=1e-6)
    assert "".join(t.token for t in tokens) == reply.choices[0].message.content


def test_json_schema_reply_parses(client: openai.OpenAI, server: LocalServer) -> None:
    schema = {"type": "object",
              "properties": {"name": {"type": "string", "maxLength": 20},
                             "age": {"type": "integer"}},
              "required": ["name", "age"]}
    reply = chat(client, server, max_tokens=60, temperature=0,
                 messages=[{"role": "user", "content": "Describe a person as JSON."}],
                 response_format={"type": "json_schema",
                                  "json_schema": {"name": "person", "schema": schema}})
    data = json.loads(reply.choices[0].message.content)
    assert isinstance(data["name"], str) and len(data["name"]) <= 20
    assert isinstance(data["age"], int)


def check_weather_call(call: Any) -> None:
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit"}
    assert isinstance(arguments["city"], str)
    assert arguments["unit"] in ("celsius", "fahrenheit")


def test_tool_call_required(client: openai.OpenAI, server: LocalServer) -> None:
    reply = chat(client, server, max_tokens=60, tools=[WEATHER], tool_choice="required",
                 messages=[{"role": "user", "content": "What is the weather in Oslo?"}])
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert len(choice.message.tool_calls) == 1
    check_weather_call(choice.message.tool_calls[0])


def test_tool_call_named_and_streamed(client: openai.OpenAI, server: LocalServer) -> None:
    chunks = list(chat(client, server, max_tokens=60, tools=[ADD, WEATHER], stream=True,
                       tool_choice={"type": "function", "function": {"name": "get_weather"}},
                       messages=[{"role": "user", "content": "Weather in Lima, please."}]))
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert len(calls) == 1 and calls[0].index == 0
    check_weather_call(calls[0])
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_tool_choice_auto_gives_a_call_or_text(client: openai.OpenAI,
                                               server: LocalServer) -> None:
    reply = chat(client, server, max_tokens=40, tools=[ADD], tool_choice="auto",
                 messages=[{"role": "user", "content": "What is 2 plus 3?"}])
    choice = reply.choices[0]
    if choice.message.tool_calls:
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        arguments = json.loads(choice.message.tool_calls[0].function.arguments)
        assert isinstance(arguments["a"], int) and isinstance(arguments["b"], int)
    else:
        assert choice.message.content and not choice.message.content.startswith("{")


def test_a_tool_result_goes_back_to_the_model(client: openai.OpenAI,
                                              server: LocalServer) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    messages = [{"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "4 degrees, rain"}]
    reply = chat(client, server, messages=messages, tools=[WEATHER], tool_choice="none")
    assert reply.choices[0].finish_reason in ("stop", "length")
    record = server.log.recent()[0]
    assert '{"name": "get_weather", "arguments": {"city": "Oslo"}}' in record.prompt
    assert "4 degrees, rain" in record.prompt


def test_completion_scores_a_text(client: openai.OpenAI, server: LocalServer) -> None:
    text = "The cat sat on the mat."
    reply = client.completions.create(model=model_name(server), prompt=text, echo=True,
                                      logprobs=3, max_tokens=1, temperature=0)
    choice = reply.choices[0]
    assert choice.text.startswith(text)
    scores = choice.logprobs.token_logprobs
    tokens = choice.logprobs.tokens
    assert len(tokens) == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert scores[0] is None
    assert all(isinstance(s, float) and s < 0 for s in scores[1:])
    assert "".join(tokens[:reply.usage.prompt_tokens]) == text


def test_embeddings_float_and_base64_agree(client: openai.OpenAI) -> None:
    texts = ["a cat on a mat", "ein Hund im Garten 🐕"]
    floats = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    raw = client.embeddings.with_raw_response.create(model="all-MiniLM-L6-v2", input=texts,
                                                     encoding_format="base64")
    packed = json.loads(raw.text)["data"]
    assert [d.index for d in floats.data] == [0, 1]
    for as_float, as_base64 in zip(floats.data, packed, strict=True):
        vector = np.asarray(as_float.embedding, dtype=np.float32)
        decoded = np.frombuffer(base64.b64decode(as_base64["embedding"]), dtype=np.float32)
        assert vector.shape == (384,)
        assert np.allclose(vector, decoded, atol=1e-7)
        assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-3)


# -- errors ------------------------------------------------------------------------------------
def expect_error(kind: type[openai.APIStatusError], status: int, call: Any) -> dict[str, Any]:
    with pytest.raises(kind) as caught:
        call()
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "code", "param"}
    return body


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    body = expect_error(openai.NotFoundError, 404, lambda: client.chat.completions.create(
        model="no-such-model", messages=HELLO))
    assert body["param"] == "model" and "no-such-model" in body["message"]


@pytest.mark.parametrize(("options", "param"), [
    ({"n": 2}, "n"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 10**9}, "max_tokens"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"response_format": {"type": "json_schema",
                          "json_schema": {"name": "x", "schema": {"type": "nonsense"}}}},
     "response_format.json_schema"),
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]},
     "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"$ref": "https://example.com/schema.json"}}}]},
     "tools[0].function.parameters"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
     "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
])
def test_bad_requests_are_400(client: openai.OpenAI, server: LocalServer,
                              options: dict[str, Any], param: str) -> None:
    body = expect_error(openai.BadRequestError, 400, lambda: chat(client, server, **options))
    assert body["param"] == param
    assert body["type"] == "invalid_request_error"


def test_server_serves_after_errors(client: openai.OpenAI, server: LocalServer) -> None:
    with pytest.raises(openai.BadRequestError):
        chat(client, server, n=3)
    assert chat(client, server, max_tokens=4).choices[0].message.content
