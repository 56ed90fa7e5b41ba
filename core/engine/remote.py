"""A model that runs on another machine, behind the interface of the local EngineClient.

Chat, Compare, grounding and the CLI call `generate`, `cancel`, `model`, `count_tokens`,
`render_prompt` and `close` the same way whether the model is a llama.cpp child process or a
server: an OpenAI-compatible one (llama.cpp's llama-server, vLLM, LM Studio, llama-cpp-python,
`glassbox serve`), through the official `openai` client, or Ollama's native API through the
official `ollama` client. Owned by one thread; only `cancel()` may be called from another.

The reply is read on a small pump thread and handed over through a queue, so `cancel()` and
the first-token timeout act at once even while the server is still reading a long prompt (a
blocked socket read cannot be interrupted from the consumer's side).

A server that dies mid-reply raises RemoteStreamLost (an EngineCrashed) after the text that
came, exactly as a local engine crash does: the chat keeps the reply, marked interrupted.
"""

from __future__ import annotations

import functools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import httpx2

from core.defaults import DEFAULT_N_CTX
from core.engine.completion_types import (
    CompletionDone,
    CompletionEvent,
    CompletionPiece,
    CompletionRequest,
)
from core.engine.introspect_types import NextTokenView, SurpriseView, TokenPiece
from core.engine.remote_http import (
    CONNECT_TIMEOUT_S,
    FIRST_TOKEN_TIMEOUT_S,
    MAX_RESPONSE_BYTES,
    bounded_transport,
    explain,
    timeouts,
)
from core.engine.remote_inspect import next_token_view, surprise_view, token_pieces
from core.engine.types import (
    ChatMessage,
    DoneEvent,
    FinishReason,
    GenerationEvent,
    GenerationStats,
    ModelInfo,
    SamplingSettings,
    TokenEvent,
)
from core.errors import (
    GlassboxError,
    NeedsLocalModel,
    PromptError,
    RemoteEngineError,
    RemoteStreamLost,
)

EngineKind = Literal["openai", "ollama"]
_POLL_S = 0.05
_MAX_TOP = 20  # OpenAI's limit on top_logprobs


@dataclass(frozen=True)
class _Chunk:
    text: str = ""
    finish: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


_END = object()


def _finish(reason: str | None) -> FinishReason:
    return "length" if reason == "length" else "stop"


def sampling_extensions(s: SamplingSettings) -> dict[str, Any]:
    """The settings beyond the OpenAI API that differ from its behaviour (no top-k cut, no
    min-p, no repeat penalty): only those are sent."""
    wanted = {"top_k": s.top_k, "min_p": s.min_p, "repeat_penalty": s.repeat_penalty}
    neutral = {"top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0}
    return {k: v for k, v in wanted.items() if v != neutral[k]}


def api_root(url: str) -> str:
    """The server's root: the address without a trailing /v1 (clients add it back)."""
    root = url.strip().rstrip("/")
    return root[:-3] if root.endswith("/v1") else root


class RemoteEngine:
    """A model served at `url` (kind "openai" or "ollama"). `model` None: the first the server
    lists. `name` is the saved engine's name, shown in messages and model paths."""

    def __init__(self, url: str, kind: EngineKind = "openai", model: str | None = None,
                 api_key: str | None = None, name: str | None = None,
                 n_ctx: int | None = None,
                 first_token_timeout_s: float = FIRST_TOKEN_TIMEOUT_S,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S,
                 max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        if kind not in ("openai", "ollama"):
            raise RemoteEngineError(f"Unknown engine kind {kind!r}: use openai or ollama.")
        if not url.strip().lower().startswith(("http://", "https://")):
            raise RemoteEngineError(f"{url!r} is not an http:// or https:// address.")
        self.url = api_root(url)
        self.kind: EngineKind = kind
        self.name = name or self.url
        self._wanted = model
        self._key = api_key or None
        self._n_ctx = n_ctx
        self._timeouts = (first_token_timeout_s, connect_timeout_s)
        self._limit = max_response_bytes
        self._cancel = threading.Event()
        self._http: httpx2.Client | None = None
        self._client: Any = None
        self._model: ModelInfo | None = None
        self._tokenizer: str | None = None  # the tokenize endpoint found, "" when none
        self._plain_openai = False  # True once the server refused the sampling extensions

    # -- lifetime --------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._client is not None

    @property
    def pid(self) -> int | None:
        return None  # nothing runs here

    @property
    def model(self) -> ModelInfo | None:
        return self._model

    @property
    def has_key(self) -> bool:
        return self._key is not None

    @property
    def tokenizer_endpoint(self) -> str | None:
        """The tokenize endpoint found so far ("" when the server has none)."""
        return self._tokenizer

    @property
    def where(self) -> str:
        return self.url + ("/v1" if self.kind == "openai" else "")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def start(self) -> None:
        """Open the clients and choose the model (asks the server for its list)."""
        if self.alive:
            return
        self._http = httpx2.Client(transport=bounded_transport(httpx2, self._limit),
                                   timeout=timeouts(httpx2, *self._timeouts),
                                   headers=self._headers())
        if self.kind == "openai":
            import openai

            # The key "none" is never checked by servers without one; the client needs a value.
            self._client = openai.OpenAI(
                base_url=self.where, api_key=self._key or "none", max_retries=0,
                timeout=timeouts(httpx2, *self._timeouts), http_client=self._http)
        else:
            import ollama

            self._client = ollama.Client(host=self.url, headers=self._headers(),
                                         timeout=timeouts(httpx, *self._timeouts),
                                         transport=bounded_transport(httpx, self._limit))
        try:
            self.select_model(self._wanted)
        except BaseException:
            self.close()
            raise

    def models(self) -> list[str]:
        """The model names the server lists."""
        self._ensure()
        try:
            if self.kind == "openai":
                return [m.id for m in self._client.models.list()]
            return [str(m.model) for m in self._client.list().models]
        except Exception as exc:
            raise explain(exc, self.where) from exc

    def select_model(self, name: str | None) -> ModelInfo:
        """Use the server's model `name` (None: the first it lists) from now on."""
        started = time.perf_counter()
        listed = self.models()
        if name is None:
            if not listed:
                raise RemoteEngineError(f"{self.where} lists no model: load one on the server.")
            name = listed[0]
        elif listed and name not in listed:
            shown = ", ".join(listed[:8]) + (" …" if len(listed) > 8 else "")
            raise RemoteEngineError(f"{self.where} has no model '{name}' (it has: {shown}).")
        n_ctx = self._n_ctx or DEFAULT_N_CTX
        self._model = ModelInfo(path=f"remote:{self.name}/{name}", name=name,
                                architecture="remote", n_ctx=n_ctx, n_ctx_train=n_ctx,
                                n_params=0, size_bytes=0, has_chat_template=True,
                                load_s=time.perf_counter() - started)
        self._wanted = name
        return self._model

    def close(self) -> None:
        self._cancel.set()
        client, http = self._client, self._http
        self._client = self._http = None
        self._model = None
        for closable in (client, http):
            close = getattr(closable, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing a client whose server is gone: nothing to save
                    pass

    def reset(self) -> None:
        self.close()
        self.start()

    def restart(self) -> ModelInfo | None:
        self.reset()
        return self._model

    def load(self, path: Any, *args: Any, **kwargs: Any) -> ModelInfo:
        raise NeedsLocalModel(f"{self.name} runs its models on the server; choose one of the "
                              "models it lists, or a local engine to load a GGUF file.")

    def set_lora_scales(self, scales: Any) -> ModelInfo:
        raise NeedsLocalModel(f"LoRA adapters apply to a local model's weights; {self.name}'s "
                              "model runs on the server. Load the base model's file locally.")

    def set_control_vector(self, path: Any, strength: float = 1.0,
                           layers: Any = None) -> ModelInfo:
        raise NeedsLocalModel(f"A control vector is added inside a local model; {self.name}'s "
                              "model runs on the server. Load its GGUF file locally.")

    def build_steering(self, pairs: Any, method: str = "mean", pooling: str = "mean",
                       progress: Any = None) -> Any:
        raise NeedsLocalModel(f"Steering reads a local model's hidden states; {self.name}'s "
                              "model runs on the server. Load its GGUF file locally.")

    def steer(self, direction: Any, prompt: str, layers: Any = None,
              strengths: Sequence[float] = (), max_tokens: int = 40,
              progress: Any = None) -> Any:
        raise NeedsLocalModel(f"Steering adds vectors inside a local model; {self.name}'s "
                              "model runs on the server. Load its GGUF file locally.")

    def score_continuations(self, continuations: Sequence[str], *,
                            context: Sequence[ChatMessage] | None = None, prefix: str = "",
                            reuse_prefix: bool = True) -> Any:
        """Not here: scoring a continuation needs the log-probability of every token of a
        given text, which chat servers do not return (evals score a remote model's choices
        through `surprise` where the server can echo a prompt's log-probabilities)."""
        raise NeedsLocalModel(f"{self.name} cannot score given continuations token by token; "
                              "use a local model for multiple-choice scoring.")

    def attribution_estimate(self, request: Any) -> Any:
        raise NeedsLocalModel(f"Attribution decodes the prompt many times with parts cut out, "
                              f"over the model's own KV cache; {self.name} runs its model on "
                              "the server. Use a local model.")

    def attribute(self, request: Any) -> Any:
        return self.attribution_estimate(request)

    def _ensure(self) -> None:
        if not self.alive:
            self.start()

    def __enter__(self) -> RemoteEngine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- replies ---------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the reply being generated, from any thread. A no-op when idle."""
        self._cancel.set()

    def generate(self, messages: Sequence[ChatMessage],
                 sampling: SamplingSettings | None = None) -> Iterator[GenerationEvent]:
        """Stream a reply. Ends with one DoneEvent; cancel() ends it early ("cancelled").
        Raises RemoteEngineError before the first token, RemoteStreamLost after it."""
        chosen = sampling or SamplingSettings()
        if not messages or not messages[-1].content.strip():
            raise PromptError("The message is empty: type something to send.")
        self._ensure()
        self._cancel.clear()
        return self._replies(list(messages), chosen)

    def _replies(self, messages: list[ChatMessage],
                 sampling: SamplingSettings) -> Iterator[GenerationEvent]:
        pieces: list[str] = []
        usage = _Chunk()
        count, started = 0, time.perf_counter()
        first_at = last_at = started
        finish: FinishReason | None = None
        source = functools.partial(self._chat_chunks, messages, sampling)
        for chunk in self._pumped(source, pieces):
            if chunk is None:
                finish = "cancelled"
                break
            if chunk.text:
                last_at = time.perf_counter()
                if count == 0:
                    first_at = last_at
                count += 1
                pieces.append(chunk.text)
                yield TokenEvent(chunk.text)
            if chunk.prompt_tokens is not None:
                usage = chunk
            if chunk.finish is not None:
                finish = _finish(chunk.finish)
        if finish is None:
            raise self._lost("the stream ended before the reply did", "".join(pieces))
        total = time.perf_counter() - started
        done = usage.completion_tokens or count
        decode_s = last_at - first_at
        assert self._model is not None
        stats = GenerationStats(
            prompt_tokens=usage.prompt_tokens or 0, completion_tokens=done,
            ttft_s=(first_at - started) if count else total,
            tokens_per_s=((count - 1) / decode_s) if count > 1 and decode_s > 0 else 0.0,
            total_s=total, n_ctx=self._model.n_ctx)
        yield DoneEvent("".join(pieces), finish, stats)

    def _lost(self, why: str, text: str) -> RemoteStreamLost:
        return RemoteStreamLost(f"{self.where} stopped in the middle of the reply ({why}). "
                                "What arrived is kept; send again to continue.", text)

    def _pumped(self, source: Callable[[list[Any]], Iterator[_Chunk]],
                pieces: list[str]) -> Iterator[_Chunk | None]:
        """Run `source` on a pump thread; yield its chunks, None once on cancel. An error
        before any text is explained; after some text it is a lost stream."""
        box: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()
        opened: list[Any] = []  # the open response, to close on cancel

        def pump() -> None:
            try:
                for chunk in source(opened):
                    if stop.is_set():
                        return
                    box.put(chunk)
                box.put(_END)
            except BaseException as exc:  # handed to the consumer, who raises it
                box.put(exc)

        thread = threading.Thread(target=pump, name="glassbox-remote-reply", daemon=True)
        thread.start()
        try:
            while True:
                try:
                    item = box.get(timeout=_POLL_S)
                except queue.Empty:
                    if self._cancel.is_set():
                        yield None
                        return
                    continue
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    error = explain(item, self.where, self._wanted)
                    if pieces:
                        raise self._lost(str(error), "".join(pieces)) from item
                    raise error from item
                yield item
        finally:
            stop.set()
            for response in opened:  # unblocks the pump where the socket allows it
                try:
                    response.close()
                except Exception:
                    pass

    def _chat_chunks(self, messages: list[ChatMessage], sampling: SamplingSettings,
                     opened: list[Any]) -> Iterator[_Chunk]:
        wire = [{"role": m.role, "content": m.content} for m in messages]
        if self.kind == "ollama":
            yield from self._ollama_chunks(self._client.chat(
                model=self._wanted, messages=wire, stream=True, options=_ollama_options(
                    sampling)))
            return
        extra: dict[str, Any] = {"seed": sampling.seed} if sampling.seed >= 0 else {}

        def create(extensions: dict[str, Any] | None) -> Any:
            return self._client.chat.completions.create(
                model=self._wanted, messages=wire, stream=True, max_tokens=sampling.max_tokens,
                temperature=sampling.temperature, top_p=sampling.top_p,
                stream_options={"include_usage": True}, extra_body=extensions, **extra)

        yield from self._openai_chunks(self._with_extensions(create, sampling), opened)

    def _with_extensions(self, create: Callable[[dict[str, Any] | None], Any],
                         sampling: SamplingSettings) -> Any:
        """`create(extensions)` with the sampling settings the OpenAI API has no field for
        (top_k, min_p, repeat_penalty: llama.cpp's server, llama-cpp-python, LM Studio and
        `glassbox serve` take them by these names), so a remote column samples as a local
        one does. A server that refuses unknown fields (400) is asked again without them,
        and not sent them again."""
        extensions = None if self._plain_openai else sampling_extensions(sampling)
        if not extensions:
            return create(None)
        import openai  # loaded by start() already

        try:
            return create(extensions)
        except openai.BadRequestError as exc:
            if not any(name in str(exc) for name in extensions):
                raise
            self._plain_openai = True
            return create(None)

    def _openai_chunks(self, stream: Any, opened: list[Any]) -> Iterator[_Chunk]:
        opened.append(stream)
        for event in stream:
            usage = getattr(event, "usage", None)
            if usage is not None:
                yield _Chunk(prompt_tokens=usage.prompt_tokens,
                             completion_tokens=usage.completion_tokens)
            for choice in event.choices or ():
                delta = getattr(choice, "delta", None)
                text = (getattr(delta, "content", None) if delta is not None
                        else getattr(choice, "text", None)) or ""
                yield _Chunk(text, choice.finish_reason)

    def _ollama_chunks(self, stream: Any) -> Iterator[_Chunk]:
        for part in stream:
            message = getattr(part, "message", None)
            text = (message.content if message is not None else part.response) or ""
            done = getattr(part, "done", False)
            yield _Chunk(text, (part.done_reason or "stop") if done else None,
                         part.prompt_eval_count if done else None,
                         part.eval_count if done else None)

    def complete(self, request: CompletionRequest) -> Iterator[CompletionEvent]:
        """Stream a completion (prompt or messages, sampling, stop strings, penalties). A
        grammar, echo or log-probabilities need the engine itself: NeedsLocalModel."""
        if request.grammar or request.echo or request.logprobs is not None:
            raise NeedsLocalModel("Grammars, echo and streamed log-probabilities need a local "
                                  "model; a remote engine gives next_token() and surprise().")
        self._ensure()
        self._cancel.clear()
        return self._completion(request)

    def _completion(self, request: CompletionRequest) -> Iterator[CompletionEvent]:
        started = time.perf_counter()
        pieces: list[str] = []
        finish: str | None = None
        usage = _Chunk()
        first_at: float | None = None
        for chunk in self._pumped(functools.partial(self._completion_chunks, request), pieces):
            if chunk is None:
                finish = "cancelled"
                break
            if chunk.text:
                first_at = first_at or time.perf_counter()
                pieces.append(chunk.text)
                yield CompletionPiece(chunk.text)
            if chunk.prompt_tokens is not None:
                usage = chunk
            finish = chunk.finish or finish
        if finish is None:
            raise self._lost("the stream ended before the reply did", "".join(pieces))
        total = time.perf_counter() - started
        yield CompletionDone("".join(pieces), "cancelled" if finish == "cancelled"
                             else _finish(finish), usage.prompt_tokens or 0,
                             usage.completion_tokens or len(pieces), request.prompt,
                             (first_at or started + total) - started, total)

    def _completion_chunks(self, request: CompletionRequest,
                           opened: list[Any]) -> Iterator[_Chunk]:
        if request.messages:
            yield from self._chat_chunks(list(request.messages), request.sampling, opened)
            return
        s = request.sampling
        if self.kind == "ollama":
            yield from self._ollama_chunks(self._client.generate(
                model=self._wanted, prompt=request.prompt, raw=True, stream=True,
                options={**_ollama_options(s), "stop": list(request.stop) or None}))
            return
        extra: dict[str, Any] = {"seed": s.seed} if s.seed >= 0 else {}
        stream = self._client.completions.create(
            model=self._wanted, prompt=request.prompt, stream=True, max_tokens=s.max_tokens,
            temperature=s.temperature, top_p=s.top_p, stop=list(request.stop) or None,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
            stream_options={"include_usage": True}, **extra)
        yield from self._openai_chunks(stream, opened)

    # -- what the Learn panels can have ----------------------------------------------------
    def _logprobs(self, prompt: str, top: int, echo: bool) -> Any:
        if self.kind != "openai":
            raise NeedsLocalModel(f"Ollama's API at {self.url} returns no log-probabilities "
                                  "here; add the server as an openai engine (its /v1) or use "
                                  "a local model.")
        self._ensure()
        try:
            return self._client.completions.create(
                model=self._wanted, prompt=prompt, max_tokens=1, temperature=0.0,
                logprobs=max(1, min(top, _MAX_TOP)), echo=echo)
        except Exception as exc:
            raise explain(exc, self.where, self._wanted) from exc

    def next_token(self, prompt: str | list[int], sampling: SamplingSettings | None = None,
                   top: int = 10, continuation: list[int] | None = None) -> NextTokenView:
        """The server's top log-probabilities for the token after `prompt` (text only: token
        ids mean nothing to a server). The view's `alternatives` says how many came."""
        if not isinstance(prompt, str) or continuation:
            raise NeedsLocalModel("Stepping through token ids needs a local model.")
        answer = self._logprobs(prompt, top, echo=False)
        choice = answer.choices[0] if answer.choices else None
        usage = getattr(answer, "usage", None)
        view = next_token_view(getattr(choice, "logprobs", None),
                               usage.prompt_tokens if usage else 0, min(top, _MAX_TOP))
        if view is None:
            raise NeedsLocalModel(f"{self.where} returns no log-probabilities, so Next token "
                                  "needs a local model.")
        return view

    def surprise(self, text: str, top: int = 5, model_path: str | None = None,
                 context: Sequence[ChatMessage] | None = None) -> SurpriseView:
        """Per-token log-probabilities of `text` from the server (echo + logprobs)."""
        if model_path is not None or context:
            raise NeedsLocalModel("Scoring a reply inside a conversation, or under another "
                                  "model file, needs a local model (its chat template).")
        answer = self._logprobs(text, top, echo=True)
        choice = answer.choices[0] if answer.choices else None
        view = surprise_view(getattr(choice, "logprobs", None), text)
        if view is None:
            raise NeedsLocalModel(f"{self.where} does not score a prompt's own tokens "
                                  "(echo with logprobs), so Surprise needs a local model.")
        return view

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        assert self._http is not None
        try:
            response = self._http.post(self.url + path, json=body)
        except Exception as exc:
            raise explain(exc, self.url + path) from exc
        if response.status_code in (404, 405, 501):
            return None
        if response.status_code >= 400:
            raise explain(httpx2.HTTPStatusError(
                f"HTTP {response.status_code}", request=response.request, response=response),
                self.url + path)
        try:
            return response.json()
        except ValueError as exc:
            raise RemoteEngineError(f"{self.url + path} answered something not JSON.") from exc

    def tokenize(self, text: str, special: bool = True,
                 model_path: str | None = None) -> list[TokenPiece]:
        """The server's tokens for `text`: llama.cpp's /tokenize (with pieces), else
        llama-cpp-python's /extras/tokenize (pieces from /extras/detokenize)."""
        if model_path is not None or self.kind != "openai":
            raise NeedsLocalModel("This tokenizer view needs a local model.")
        self._ensure()
        if self._tokenizer in (None, "/tokenize"):
            found = self._post("/tokenize", {"content": text, "with_pieces": True,
                                             "add_special": False})
            if found is not None and isinstance(found.get("tokens"), list):
                self._tokenizer = "/tokenize"
                return self._llama_server_pieces(found["tokens"])
        if self._tokenizer in (None, "/extras/tokenize"):
            found = self._post("/extras/tokenize", {"input": text, "model": self._wanted})
            if found is not None and isinstance(found.get("tokens"), list):
                self._tokenizer = "/extras/tokenize"
                ids = [int(i) for i in found["tokens"]]
                texts = [str((self._post("/extras/detokenize", {"tokens": [i]}) or {})
                             .get("text", "")) for i in ids]
                return token_pieces(ids, texts)
        self._tokenizer = ""
        raise NeedsLocalModel(f"{self.url} has no tokenize endpoint, so the Tokenizer needs a "
                              "local model.")

    def _llama_server_pieces(self, tokens: list[Any]) -> list[TokenPiece]:
        if tokens and isinstance(tokens[0], dict):
            return token_pieces([int(t["id"]) for t in tokens],
                                [str(t.get("piece", "")) for t in tokens])
        ids = [int(t) for t in tokens]
        return token_pieces(ids, [""] * len(ids))

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` by the server's tokenizer; without one, an estimate (4 bytes a
        token): only budgets use it, and the server refuses a prompt that does not fit."""
        try:
            return len(self.tokenize(text))
        except NeedsLocalModel:
            return max(1, len(text.encode("utf-8")) // 4)

    def render_prompt(self, messages: Sequence[ChatMessage],
                      add_generation_prompt: bool = True,
                      tools: list[dict[str, Any]] | None = None) -> str:
        """An approximation of what the model reads: the server applies its own chat
        template (with any `tools`), which it does not show."""
        text = "".join(f"{m.role}: {m.content}\n\n" for m in messages)
        if tools:
            text = f"tools: {json.dumps(tools, ensure_ascii=False)}\n\n" + text
        return text + ("assistant: " if add_generation_prompt else "")

    def _local_only(self, what: str) -> NeedsLocalModel:
        return NeedsLocalModel(f"{what} reads the model's insides, which a server does not "
                               f"send: it needs a local model ({self.name} runs remotely).")

    def attention(self, *args: Any, **kwargs: Any) -> Any:
        raise self._local_only("Attention")

    def logit_lens(self, *args: Any, **kwargs: Any) -> Any:
        raise self._local_only("The logit lens")

    def anatomy(self, *args: Any, **kwargs: Any) -> Any:
        raise self._local_only("Model anatomy")

    def weight_histogram(self, *args: Any, **kwargs: Any) -> Any:
        raise self._local_only("The weight histogram")

    def quantization(self, *args: Any, **kwargs: Any) -> Any:
        raise self._local_only("The quantization lab")


def _ollama_options(s: SamplingSettings) -> dict[str, Any]:
    options: dict[str, Any] = {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p,
                               "min_p": s.min_p, "repeat_penalty": s.repeat_penalty,
                               "num_predict": s.max_tokens}
    if s.seed >= 0:
        options["seed"] = s.seed
    return options


__all__ = ["EngineKind", "GlassboxError", "RemoteEngine", "api_root"]
