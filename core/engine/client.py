"""The one way callers reach a model: a client for the engine child process.

The CLI, the desktop app, the tests and the benchmarks all use this class. It is owned by one
thread; only `cancel()` may be called from another.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from core.defaults import DEFAULT_N_CTX
from core.engine.attribution_types import (
    AttributionEstimate,
    AttributionEvent,
    AttributionRequest,
)
from core.engine.capture_types import AttentionView, LensView
from core.engine.completion_types import CompletionEvent, CompletionRequest
from core.engine.continuation_types import ContinuationScores
from core.engine.introspect_types import NextTokenView, SurpriseView, TokenPiece
from core.engine.protocol import (
    ControlVectorRequest,
    ErrorReply,
    InspectRequest,
    LoadRequest,
    SteerRequest,
)
from core.engine.steering_types import SteeringDirection, SteeringPair, SteeringRun
from core.engine.types import (
    ChatMessage,
    GenerateRequest,
    GenerationEvent,
    ModelInfo,
    SamplingSettings,
    check_lora_scale,
)
from core.errors import AdapterError, EngineCrashed, GlassboxError, SteeringError
from core.gguf.anatomy_types import AnatomyView, WeightHistogram

_POLL_S = 0.05
_SHUTDOWN_WAIT_S = 5.0


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"it was ended by {signal.Signals(-code).name}"
        except ValueError:
            return f"it was ended by signal {-code}"
    return f"it exited with code {code}"


class EngineClient:
    """Starts, talks to and restarts the engine child process."""

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")  # fork would copy Qt and thread state
        self._cancel = self._ctx.Event()
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._model: ModelInfo | None = None
        self._last_load: LoadRequest | None = None
        self._loading: str | None = None  # the file being loaded, to name it if the child dies

    # -- process lifetime -------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def model(self) -> ModelInfo | None:
        return self._model

    def start(self) -> None:
        if self.alive:
            return
        from core.engine.child import serve

        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(
            target=serve, args=(child, self._cancel), name="glassbox-engine", daemon=True
        )
        try:
            proc.start()
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self._proc, self._conn = proc, parent
        self._model = None

    def close(self) -> None:
        """End the child process, politely first."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        self._model = None
        if conn is not None:
            try:
                conn.send(("shutdown", None))
            except (OSError, ValueError):
                pass
        if proc is not None:
            proc.join(_SHUTDOWN_WAIT_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
        if conn is not None:
            conn.close()

    def reset(self) -> None:
        """A fresh child with no model, forgetting the last one (restart() will not reload it):
        after a model took the engine down, loading it again is the user's call."""
        self.close()
        self._last_load = None
        self.start()

    def restart(self) -> ModelInfo | None:
        """A fresh child process, with the last model loaded again if there was one."""
        self.close()
        self.start()
        if self._last_load is None:
            return None
        return self._load(self._last_load)

    # -- requests ---------------------------------------------------------------------------
    def _send(self, op: str, payload: Any) -> None:
        if not self.alive or self._conn is None:
            self.start()
        assert self._conn is not None
        try:
            self._conn.send((op, payload))
        except (OSError, ValueError) as exc:
            raise self._crashed() from exc

    def _receive(self) -> tuple[str, Any]:
        conn, proc = self._conn, self._proc
        assert conn is not None and proc is not None
        while True:
            try:
                if conn.poll(_POLL_S):
                    kind, payload = conn.recv()
                    if kind == "error":
                        assert isinstance(payload, ErrorReply)
                        raise payload.to_exception()
                    return kind, payload
            except (EOFError, OSError) as exc:
                raise self._crashed() from exc
            if not proc.is_alive() and not conn.poll(0):
                raise self._crashed()

    def _crashed(self) -> EngineCrashed:
        proc = self._proc
        if proc is not None:
            proc.join(1.0)
        what = _describe_exit(proc.exitcode if proc else None)
        loading, self._loading = self._loading, None
        model = f" while running {Path(self._model.path).name}" if self._model else ""
        self.close()
        if loading is not None:
            return EngineCrashed(
                f"llama.cpp crashed while loading {Path(loading).name} ({what}). The file is "
                "probably damaged or made for another version of llama.cpp; it was not "
                "loaded. Your chats are safe.")
        return EngineCrashed(
            f"The model engine stopped unexpectedly{model} ({what}). "
            "Your chats are safe; load a model to continue."
        )

    def _load(self, request: LoadRequest) -> ModelInfo:
        self._send("load", request)
        self._loading = request.path
        try:
            kind, payload = self._receive()
        finally:
            self._loading = None
        assert kind == "loaded"
        self._model = payload
        return payload

    def load(self, path: str | Path, n_ctx: int = DEFAULT_N_CTX, n_gpu_layers: int = 0, *,
             n_threads: int | None = None, flash_attn: bool = False,
             kv_type: str = "f16",
             loras: Sequence[tuple[str | Path, float]] = (),
             control_vector: tuple[str | Path, float, tuple[int, int] | None] | None = None,
             ) -> ModelInfo:
        """Load a GGUF model, replacing the current one, with the GGUF LoRA adapters `loras`
        ((path, scale) pairs, scales 0..2) applied over it; `model.loras` lists them.
        Raises ModelLoadError, AdapterError (an adapter for another base: the model loaded
        before stays), EngineCrashed. `control_vector` (file, strength, layer range or None
        for the file's own) is kept applied to generation: see set_control_vector."""
        adapters = tuple((os.path.abspath(p), check_lora_scale(s, str(p))) for p, s in loras)
        cvec = None if control_vector is None else ControlVectorRequest(
            os.path.abspath(control_vector[0]), float(control_vector[1]), control_vector[2])
        request = LoadRequest(str(path), n_ctx, n_gpu_layers, n_threads, flash_attn, kv_type,
                              adapters, cvec)
        info = self._load(request)
        self._last_load = request
        return info

    def set_lora_scales(self, scales: Mapping[str | Path, float]) -> ModelInfo:
        """Change the scales of loaded LoRA adapters ({path: scale}, 0..2) without reloading
        the model; the next reply or inspection uses them. Raises AdapterError."""
        if self._model is None:
            raise AdapterError("No model is loaded: load one with its adapters first.")
        wanted = {os.path.abspath(p): check_lora_scale(s, str(p)) for p, s in scales.items()}
        self._send("lora_scales", wanted)
        kind, info = self._receive()
        assert kind == "loaded"
        self._model = info
        if self._last_load is not None:  # a restart brings the adapters back as they are now
            self._last_load = replace(self._last_load, loras=tuple(
                (lora.path, lora.scale) for lora in info.loras))
        return info

    def set_control_vector(self, path: str | Path | None, strength: float = 1.0,
                           layers: tuple[int, int] | None = None) -> ModelInfo:
        """Keep a llama.cpp control vector (GGUF) applied to every reply until it is set to
        None; `layers` None uses the range saved in the file. `model.control_vector` says
        what is applied. Raises SteeringError (a vector for another model: refused, nothing
        changes)."""
        if self._model is None:
            raise SteeringError("No model is loaded: load one before steering it.")
        request = ControlVectorRequest(None if path is None else os.path.abspath(path),
                                       float(strength), layers)
        self._send("control_vector", request)
        kind, info = self._receive()
        assert kind == "loaded"
        self._model = info
        if self._last_load is not None:  # a restart brings the steering back as it is now
            self._last_load = replace(self._last_load,
                                      control_vector=request if path is not None else None)
        return info

    def _steer(self, request: SteerRequest,
               progress: Callable[[int, int], None] | None) -> Any:
        self._cancel.clear()
        self._send("steer", request)
        while True:
            kind, payload = self._receive()  # an error reply raises here and ends the job
            if kind == "steered":
                return payload
            if progress is not None:
                try:
                    progress(*payload)
                except BaseException:
                    # The caller gave up: stop the child and read up to its last event, so
                    # the next request does not receive this job's leftovers.
                    self._drain_after_abandon("steered")
                    raise

    def build_steering(self, pairs: Sequence[SteeringPair], method: str = "mean",
                       pooling: str = "mean",
                       progress: Callable[[int, int], None] | None = None,
                       ) -> SteeringDirection:
        """A direction per layer from contrastive pairs (core.engine.steering says how).
        `progress(done, total)` is called per pair; cancel() stops it (Cancelled)."""
        result: SteeringDirection = self._steer(SteerRequest(
            "build", tuple(pairs), method, pooling), progress)
        return result

    def steer(self, direction: SteeringDirection, prompt: str,
              layers: tuple[int, int] | None = None,
              strengths: Sequence[float] = (-2.0, -1.0, 0.0, 1.0, 2.0), max_tokens: int = 40,
              progress: Callable[[int, int], None] | None = None) -> SteeringRun:
        """Greedy replies to `prompt` with `direction` applied over `layers` (default: the
        middle third) at each strength, the next-token shift and each token's projection.
        The chat's own generation is untouched afterwards."""
        result: SteeringRun = self._steer(SteerRequest(
            "run", direction=direction, prompt=prompt, layers=layers,
            strengths=tuple(float(s) for s in strengths), max_tokens=max_tokens), progress)
        return result

    def count_tokens(self, text: str) -> int:
        self._send("count_tokens", text)
        return int(self._receive()[1])

    def _inspect(self, request: InspectRequest) -> Any:
        self._send("inspect", request)
        return self._receive()[1]

    def tokenize(self, text: str, special: bool = True,
                 model_path: str | None = None) -> list[TokenPiece]:
        """The model's tokens for `text`, with their bytes; `special` parses <|tags|> as such.

        With `model_path`, another GGUF's tokenizer (loaded vocab-only) does the splitting.
        """
        result: list[TokenPiece] = self._inspect(InspectRequest(
            "tokens", text, options={"special": special}, model_path=model_path))
        return result

    def next_token(self, prompt: str | list[int], sampling: SamplingSettings | None = None,
                   top: int = 10, continuation: list[int] | None = None) -> NextTokenView:
        """The next-token distribution after `prompt` (text or token ids) and `continuation`
        (token ids chosen one by one after it, in step mode)."""
        request = InspectRequest(
            "next", prompt if isinstance(prompt, str) else "",
            tokens=None if isinstance(prompt, str) else list(prompt),
            options={"sampling": sampling or SamplingSettings(), "top": top,
                     "continuation": list(continuation or [])})
        result: NextTokenView = self._inspect(request)
        return result

    def surprise(self, text: str, top: int = 5, model_path: str | None = None,
                 context: Sequence[ChatMessage] | None = None) -> SurpriseView:
        """Per-token log-probabilities of `text` under the model (or under the GGUF at
        `model_path`, to compare two models), and its perplexity. With `context`, the text
        is scored as the reply to that conversation, through the model's chat template."""
        options: dict[str, Any] = {"top": top}
        if context:
            options["context"] = list(context)
        result: SurpriseView = self._inspect(InspectRequest(
            "surprise", text, options=options, model_path=model_path))
        return result

    def score_continuations(self, continuations: Sequence[str], *,
                            context: Sequence[ChatMessage] | None = None, prefix: str = "",
                            reuse_prefix: bool = True) -> ContinuationScores:
        """Log-probabilities of each continuation right after one prompt: the conversation
        `context` through the chat template (as `surprise(text, context=...)` reads a reply),
        or the raw text `prefix`. The numbers are Surprise's for the same texts; with
        `reuse_prefix` the prompt's KV cache is kept across continuations."""
        options: dict[str, Any] = {"texts": list(continuations), "reuse_prefix": reuse_prefix}
        if context:
            options["context"] = list(context)
        else:
            options["prefix"] = prefix
        result: ContinuationScores = self._inspect(InspectRequest("continuations",
                                                                  options=options))
        return result

    def attribution_estimate(self, request: AttributionRequest) -> AttributionEstimate:
        """What `attribute(request)` will cost (tokens to decode, seconds from a measured
        tokens/s), before it starts. Raises AttributionError for input it cannot explain."""
        self._cancel.clear()
        self._send("attribution_estimate", request)
        result: AttributionEstimate = self._receive()[1]
        return result

    def attribute(self, request: AttributionRequest) -> Iterator[AttributionEvent]:
        """Occlusion attribution (core.engine.attribution): AttributionProgress events, then
        one AttributionResult; cancel() ends it early with a partial result marked cancelled."""
        return self._stream("attribute", request, "attributed")

    def render_prompt(self, messages: Sequence[ChatMessage],
                      add_generation_prompt: bool = True,
                      tools: list[dict[str, Any]] | None = None) -> str:
        """What the model sees: `messages` through the model's own chat template (`tools`,
        in OpenAI's shape, for templates that read them: ModelInfo.template_tools)."""
        options: dict[str, Any] = {"messages": list(messages),
                                   "add_generation_prompt": add_generation_prompt}
        if tools is not None:
            options["tools"] = tools
        result: str = self._inspect(InspectRequest("template", options=options))
        return result

    def attention(self, text: str, context: Sequence[ChatMessage] | None = None,
                  layers: Sequence[int] | None = None, reply_only: bool = False,
                  mean_heads: bool = False, model_path: str | None = None) -> AttentionView:
        """Attention probabilities of every layer and head over `text` (float32
        [layer][head][query][key], real tokens only). With `context`, `text` is the reply to
        that conversation, read through the chat template; `reply_only` keeps the reply's
        query rows, `mean_heads` averages heads in the engine (smaller for long prompts)."""
        options: dict[str, Any] = {"layers": list(layers) if layers is not None else None,
                                   "reply_only": reply_only, "mean_heads": mean_heads}
        if context:
            options["context"] = list(context)
        result: AttentionView = self._inspect(InspectRequest(
            "attention", text, options=options, model_path=model_path))
        return result

    def logit_lens(self, text: str, context: Sequence[ChatMessage] | None = None,
                   layers: Sequence[int] | None = None, top: int = 5,
                   model_path: str | None = None) -> LensView:
        """For each layer and position, the next token the residual stream would predict
        through the final norm and output matrix, with the top `top` candidates."""
        options: dict[str, Any] = {"layers": list(layers) if layers is not None else None,
                                   "top": top}
        if context:
            options["context"] = list(context)
        result: LensView = self._inspect(InspectRequest(
            "lens", text, options=options, model_path=model_path))
        return result

    def anatomy(self, model_path: str | None = None) -> AnatomyView:
        """Metadata, architecture and tensor table of the loaded model (or of `model_path`)."""
        result: AnatomyView = self._inspect(InspectRequest("anatomy", model_path=model_path))
        return result

    def weight_histogram(self, tensor: str, bins: int = 64,
                         model_path: str | None = None) -> WeightHistogram:
        """Histogram of one tensor's dequantized weights (read in chunks: bounded memory)."""
        result: WeightHistogram = self._inspect(InspectRequest(
            "histogram", tensor, options={"bins": bins}, model_path=model_path))
        return result

    def generate(
        self, messages: Sequence[ChatMessage], sampling: SamplingSettings | None = None
    ) -> Iterator[GenerationEvent]:
        """Stream a reply. Ends with one DoneEvent; cancel() makes it end early."""
        request = GenerateRequest(list(messages), sampling or SamplingSettings())
        return self._stream("generate", request, "done")

    def complete(self, request: CompletionRequest) -> Iterator[CompletionEvent]:
        """Stream a completion as API clients ask for it (stop strings, grammar,
        log-probabilities, echo). Ends with one CompletionDone; cancel() ends it early."""
        return self._stream("complete", request, "completed")

    def _stream(self, op: str, request: Any, last: str) -> Iterator[Any]:
        self._cancel.clear()
        self._send(op, request)
        finished = False
        try:
            while True:
                try:
                    kind, event = self._receive()
                except GlassboxError:
                    finished = True  # an error reply ends the request; nothing to drain
                    raise
                if kind == last:
                    finished = True
                    yield event
                    return
                yield event
        finally:
            if not finished and self.alive:
                self._drain_after_abandon(last)

    def _drain_after_abandon(self, last: str) -> None:
        # The caller stopped iterating early: stop the child and read up to its last event so
        # the next request does not receive this reply's leftovers.
        self._cancel.set()
        try:
            while self._receive()[0] != last:
                pass
        except Exception:  # the reply ended in an error or a crash: nothing left to drain
            pass

    def cancel(self) -> None:
        """Stop the reply being generated, from any thread. A no-op when idle."""
        self._cancel.set()

    def __enter__(self) -> EngineClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
