"""Messages between the engine client and its child process: plain tuples of plain data.

Requests (client -> child): ("load", LoadRequest) | ("generate", GenerateRequest)
                            | ("complete", CompletionRequest)
                            | ("count_tokens", str) | ("inspect", InspectRequest)
                            | ("lora_scales", dict[str, float]) | ("shutdown", None)
                            | ("attribute", AttributionRequest)
                            | ("attribution_estimate", AttributionRequest)
                            | ("control_vector", ControlVectorRequest)
                            | ("steer", SteerRequest)
Replies  (child -> client): ("loaded", ModelInfo) (to "load" and "lora_scales")
                            | ("token", TokenEvent) | ("done", DoneEvent)
                            | ("piece", CompletionPiece) | ("completed", CompletionDone)
                            | ("count", int) | ("inspected", a view from introspect
                                                 or capture_types)
                            | ("attribution_progress", AttributionProgress)
                            | ("attributed", AttributionResult) (to "attribute")
                            | ("estimated", AttributionEstimate)
                            | ("steer_progress", (done, total)) then ("steered",
                              SteeringDirection | SteeringRun) (to "steer")
                            | ("error", ErrorReply)
Cancel travels on a shared multiprocessing.Event, so it needs no lock on the pipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from core import errors
from core.defaults import DEFAULT_N_CTX
from core.engine.steering_types import SteeringDirection, SteeringPair


@dataclass(frozen=True)
class LoadRequest:
    path: str
    n_ctx: int = DEFAULT_N_CTX
    n_gpu_layers: int = 0
    n_threads: int | None = None  # None: one a core (runner.default_threads)
    flash_attn: bool = False
    kv_type: str = "f16"  # KV-cache element type: "f16", "q8_0" or "q4_0"
    loras: tuple[tuple[str, float], ...] = ()  # GGUF LoRA adapters (absolute path, scale)
    control_vector: ControlVectorRequest | None = None  # kept applied to generation


@dataclass(frozen=True)
class ControlVectorRequest:
    path: str | None  # None: steering off
    strength: float = 1.0
    layers: tuple[int, int] | None = None  # None: the range saved in the file


@dataclass(frozen=True)
class SteerRequest:
    """The steering lab's two jobs: "build" a direction from `pairs`, or "run" `direction`
    on `prompt` at each of `strengths` over `layers`."""

    what: Literal["build", "run"]
    pairs: tuple[SteeringPair, ...] = ()
    method: str = "mean"
    pooling: str = "mean"
    direction: SteeringDirection | None = None
    prompt: str = ""
    layers: tuple[int, int] | None = None
    strengths: tuple[float, ...] = (0.0,)
    max_tokens: int = 40


@dataclass(frozen=True)
class InspectRequest:
    what: Literal["tokens", "next", "surprise", "continuations", "template", "attention",
                  "lens", "anatomy", "histogram"]
    text: str = ""
    tokens: list[int] | None = None  # "next" on exact token ids (step mode) instead of text
    options: dict[str, Any] = field(default_factory=dict)
    model_path: str | None = None  # another model's file, for side-by-side comparisons


@dataclass(frozen=True)
class ErrorReply:
    kind: str  # the name of a GlassboxError subclass
    message: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorReply:
        if isinstance(exc, errors.GlassboxError):
            return cls(type(exc).__name__, str(exc))
        return cls("GlassboxError", f"The model engine failed: {type(exc).__name__}: {exc}")

    def to_exception(self) -> errors.GlassboxError:
        cls = getattr(errors, self.kind, errors.GlassboxError)
        if not (isinstance(cls, type) and issubclass(cls, errors.GlassboxError)):
            cls = errors.GlassboxError
        return cls(self.message)
