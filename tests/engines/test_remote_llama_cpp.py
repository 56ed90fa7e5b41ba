"""A remote engine against llama-cpp-python's own OpenAI-compatible server (code nobody here
wrote), over the same bundled model as the local engine.

Same question, greedy decoding: the text must match the local engine's. Both render SmolLM2's
ChatML the same way when the conversation has a system message (SmolLM2's own template adds a
default system prompt only when there is none, ChatML's does not), and the server applies its
defaults for what the OpenAI API cannot send (top_k 40, min_p 0.05, repeat_penalty 1.1: the
local engine's defaults too), so the local side is given those.
"""

from __future__ import annotations

import math

import pytest

from core.engine.client import EngineClient
from core.engine.remote import RemoteEngine
from core.engine.remote_inspect import RemoteNextTokenView
from core.engine.types import ChatMessage, DoneEvent, SamplingSettings, TokenEvent
from core.errors import NeedsLocalModel

QUESTION = [ChatMessage("system", "You are a helpful assistant."),
            ChatMessage("user", "What is the capital of France?")]
GREEDY = SamplingSettings(temperature=0.0, max_tokens=40, seed=7)


@pytest.fixture(scope="module")
def remote(llama_cpp_server: str) -> RemoteEngine:
    engine = RemoteEngine(llama_cpp_server, n_ctx=2048)
    engine.start()
    yield engine
    engine.close()


def _reply(engine: EngineClient | RemoteEngine) -> tuple[str, list[str]]:
    events = list(engine.generate(QUESTION, GREEDY))
    done = events[-1]
    assert isinstance(done, DoneEvent)
    return done.text, [e.text for e in events if isinstance(e, TokenEvent)]


def test_greedy_text_matches_the_local_engine(remote: RemoteEngine,
                                              engine: EngineClient) -> None:
    assert engine.render_prompt(QUESTION).startswith("<|im_start|>system\nYou are a helpful")
    local, _ = _reply(engine)
    text, pieces = _reply(remote)
    assert text.strip()
    assert text == local
    assert "".join(pieces) == text


def test_reply_stats_and_model(remote: RemoteEngine) -> None:
    done = list(remote.generate(QUESTION, SamplingSettings(temperature=0.0, max_tokens=5)))[-1]
    assert isinstance(done, DoneEvent)
    assert done.finish_reason == "length"
    assert done.stats.completion_tokens == 5
    assert remote.model is not None and remote.model.path.startswith("remote:")
    assert remote.model.n_ctx == 2048


def test_next_token_comes_from_the_servers_top_logprobs(remote: RemoteEngine) -> None:
    view = remote.next_token("The capital of France is", top=8)
    assert isinstance(view, RemoteNextTokenView)
    assert view.asked == 8 and 1 <= view.alternatives <= 8
    probs = [c.prob for c in view.raw]
    assert probs == sorted(probs, reverse=True)
    assert all(0 < p <= 1 for p in probs) and sum(probs) <= 1.0 + 1e-6
    assert view.prompt_tokens > 0


def test_surprise_scores_the_texts_tokens(remote: RemoteEngine) -> None:
    text = "The cat sat on the mat."
    view = remote.surprise(text, top=3)
    assert 1 <= len(view.tokens) < len(text)
    assert "".join(t.piece for t in view.tokens) in text  # the first token is not scored
    assert all(t.logprob <= 0 for t in view.tokens)
    assert math.isfinite(view.perplexity) and view.perplexity >= 1


def test_tokenize_uses_the_servers_endpoint(remote: RemoteEngine,
                                            engine: EngineClient) -> None:
    pieces = remote.tokenize("Hello world, glassbox!")
    local = engine.tokenize("Hello world, glassbox!", special=False)
    assert remote.tokenizer_endpoint == "/extras/tokenize"
    assert [p.id for p in pieces] == [p.id for p in local if not p.special]
    assert "".join(p.text for p in pieces) == "Hello world, glassbox!"
    assert remote.count_tokens("Hello world, glassbox!") == len(pieces)


@pytest.mark.parametrize("call", ["attention", "logit_lens", "anatomy", "weight_histogram"])
def test_insides_need_a_local_model(remote: RemoteEngine, call: str) -> None:
    with pytest.raises(NeedsLocalModel, match="needs a local model"):
        getattr(remote, call)("Hello")


def test_a_model_file_cannot_be_loaded_into_it(remote: RemoteEngine) -> None:
    with pytest.raises(NeedsLocalModel, match="runs its models on the server"):
        remote.load("/some/model.gguf")
