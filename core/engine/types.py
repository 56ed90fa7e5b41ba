"""Plain data that crosses the engine boundary (and the process boundary), and the one reader
of sampling settings sent or stored as JSON."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    seed: int = -1  # -1: a new random seed for every reply
    max_tokens: int = 512


@dataclass(frozen=True)
class ModelInfo:
    path: str
    name: str
    architecture: str
    n_ctx: int
    n_ctx_train: int
    n_params: int
    size_bytes: int
    has_chat_template: bool
    load_s: float
    loras: tuple[LoraInfo, ...] = ()  # LoRA adapters applied over the weights, in load order
    template_tools: bool = False  # the chat template reads `tools` (see core.tools.protocol)
    # A llama.cpp control vector kept on generation: (file, strength, (first, last layer)).
    control_vector: tuple[str, float, tuple[int, int]] | None = None


@dataclass(frozen=True)
class LoraInfo:
    """A LoRA adapter applied to the loaded model (a GGUF adapter file, see core.finetune)."""

    path: str  # absolute: the key set_lora_scales takes
    scale: float  # 0 turns it off, 1 applies it as trained; LORA_SCALE_MAX at most
    name: str


LORA_SCALE_MAX = 2.0  # past twice the trained change, outputs are noise more than a lesson


def check_lora_scale(scale: float, path: str = "") -> float:
    """`scale` as a float when it is within 0..LORA_SCALE_MAX; AdapterError otherwise."""
    from core.errors import AdapterError

    value = float(scale)
    if not 0.0 <= value <= LORA_SCALE_MAX:  # NaN fails both comparisons
        where = f" for {path}" if path else ""
        raise AdapterError(f"LoRA scale {scale}{where} is outside 0 to {LORA_SCALE_MAX:g}: "
                           "0 turns the adapter off, 1 applies it as trained.")
    return value


def lora_from_spec(spec: str) -> tuple[str, float]:
    """`PATH[:SCALE]` (the --lora option) as (path, scale); scale 1 when none is given.

    Only a last colon followed by a number splits, so `C:\\x\\a.gguf` stays a path and
    `C:\\x\\a.gguf:0.5` is that path at 0.5.
    """
    path, sep, tail = spec.rpartition(":")
    if sep and path:
        try:
            scale = float(tail)
        except ValueError:
            pass
        else:
            return path, check_lora_scale(scale, path)
    return spec, 1.0


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float
    tokens_per_s: float
    total_s: float
    n_ctx: int
    dropped_messages: int = 0  # oldest turns left out so the prompt fits the context

    @property
    def context_used(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TokenEvent:
    """One decoded piece of the reply (may hold several tokens or none of a split character)."""

    text: str


@dataclass(frozen=True)
class DoneEvent:
    text: str
    finish_reason: FinishReason
    stats: GenerationStats


GenerationEvent = TokenEvent | DoneEvent


@dataclass(frozen=True)
class GenerateRequest:
    messages: list[ChatMessage]
    sampling: SamplingSettings = field(default_factory=SamplingSettings)


# Whole-number sampling fields reach llama.cpp as C ints; beyond these a reply would fail.
_INT_LIMITS = {"seed": (-1, 2**31 - 1), "max_tokens": (1, 2**31 - 1), "top_k": (-2**31, 2**31 - 1)}


def sampling_from(value: Any) -> SamplingSettings:
    """SamplingSettings from a stored or sent value (the "sampling" setting, a saved
    comparison's variant), ignoring unknown, mistyped and non-finite values."""
    defaults = SamplingSettings()
    if not isinstance(value, dict):
        return defaults
    clean: dict[str, Any] = {}
    for f in fields(SamplingSettings):
        raw = value.get(f.name)
        if not isinstance(raw, int | float) or isinstance(raw, bool):
            continue
        if isinstance(raw, float) and not math.isfinite(raw):
            continue
        kind = type(getattr(defaults, f.name))
        try:
            number = kind(raw)
        except OverflowError:  # an integer too large for a float field
            continue
        low, high = _INT_LIMITS.get(f.name, (-math.inf, math.inf))
        if low <= number <= high:
            clean[f.name] = number
    return SamplingSettings(**clean)
