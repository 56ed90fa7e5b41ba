"""Run one user prompt through several variants (system prompt, few-shot set, sampling, model).

`run_comparison` is a generator of plain events: the desktop worker, the CLI and the tests all
drive it the same way. Variants run one after another on one engine; a variant with its own
model loads it, and the model that was loaded before is put back at the end. A variant whose
model is a saved remote engine's ("remote:NAME/MODEL") runs on that server instead, so a local
and a remote model can answer side by side; the local engine is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.defaults import DEFAULT_N_CTX
from core.engine.loading import load_model
from core.engine.remote_paths import is_remote
from core.engine.types import (
    ChatMessage,
    DoneEvent,
    GenerationStats,
    ModelInfo,
    SamplingSettings,
    TokenEvent,
    sampling_from,
)
from core.errors import EngineCrashed, GlassboxError, NoModelLoaded, PromptError
from core.models.load_settings import LoadSettings
from core.prompts.presets import Preset

if TYPE_CHECKING:  # the store reads variants without starting any engine
    from core.engine.client import EngineClient
    from core.engine.remote import RemoteEngine

    OpenRemote = Callable[[str], RemoteEngine]

MIN_VARIANTS, MAX_VARIANTS = 2, 4


@dataclass(frozen=True)
class Variant:
    """One column of a comparison: what comes before the prompt, and how it is sampled."""

    label: str
    preamble: tuple[ChatMessage, ...] = ()  # system prompt and few-shot turns
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    model_path: str | None = None  # None: whatever model is loaded
    preset: str | None = None  # the name of the preset it was made from, if any
    # GGUF LoRA adapters (path, scale) over the model: the same model with and without a
    # fine-tune side by side. Empty: the model as loaded (with the adapters it has, if any).
    loras: tuple[tuple[str, float], ...] = ()
    # A llama.cpp control vector (path, strength) steering this column's reply only.
    control_vector: tuple[str, float] | None = None

    @classmethod
    def from_preset(cls, preset: Preset, values: Mapping[str, str] | None = None,
                    sampling: SamplingSettings | None = None, model_path: str | None = None,
                    label: str | None = None) -> Variant:
        return cls(label or preset.name, tuple(preset.render(values)),
                   sampling or SamplingSettings(), model_path, preset.name)

    def messages(self, prompt: str) -> list[ChatMessage]:
        return [*self.preamble, ChatMessage("user", prompt)]

    @property
    def system_prompt(self) -> str:
        return next((m.content for m in self.preamble if m.role == "system"), "")

    @property
    def example_count(self) -> int:
        return sum(m.role == "user" for m in self.preamble)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label,
                "preamble": [{"role": m.role, "content": m.content} for m in self.preamble],
                "sampling": asdict(self.sampling), "model_path": self.model_path,
                "preset": self.preset, "loras": [[path, scale] for path, scale in self.loras],
                "control_vector": list(self.control_vector) if self.control_vector else None}

    @classmethod
    def from_json(cls, value: Any) -> Variant:
        """A variant from its JSON form; PromptError says what is wrong with a bad one."""
        try:
            preamble = tuple(ChatMessage(m["role"], m["content"]) for m in value["preamble"])
            if any(m.role not in ("system", "user", "assistant") or not isinstance(m.content, str)
                   for m in preamble):
                raise ValueError("a preamble message has an unknown role or no text")
            sampling = sampling_from(value.get("sampling"))
            label, model, preset = value["label"], value.get("model_path"), value.get("preset")
            if not isinstance(label, str) or not all(v is None or isinstance(v, str)
                                                     for v in (model, preset)):
                raise ValueError("label, model_path and preset must be text")
            # Variants saved before adapters existed have no "loras".
            loras = tuple((str(path), float(scale)) for path, scale in value.get("loras", []))
            steer = value.get("control_vector")
            control_vector = (str(steer[0]), float(steer[1])) if steer else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PromptError(f"A comparison variant is malformed: {exc}") from exc
        return cls(label, preamble, sampling, model, preset, loras, control_vector)


@dataclass(frozen=True)
class VariantStarted:
    index: int
    model_name: str
    model_path: str = ""  # the file, or "remote:NAME/MODEL"


@dataclass(frozen=True)
class VariantToken:
    index: int
    text: str


@dataclass(frozen=True)
class VariantDone:
    index: int
    text: str
    finish_reason: str
    stats: GenerationStats


@dataclass(frozen=True)
class VariantFailed:
    index: int
    message: str
    text: str = ""  # what arrived before it failed


CompareEvent = VariantStarted | VariantToken | VariantDone | VariantFailed


def check_variants(prompt: str, variants: Sequence[Variant]) -> None:
    if not prompt.strip():
        raise PromptError("The prompt to compare is empty: type something first.")
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise PromptError(f"A comparison takes {MIN_VARIANTS} to {MAX_VARIANTS} variants; "
                          f"{len(variants)} were given.")


def comparison_title(prompt: str, labels: Sequence[str], taken: Sequence[str] = ()) -> str:
    """A saved comparison's title: the prompt's start and what was compared, numbered when a
    saved one has it already (the same prompt run again used to save under the same title)."""
    words = " ".join(prompt.split())
    start = words if len(words) <= 40 else words[:39].rstrip() + "…"
    title = f"{start or 'Comparison'} · {' vs '.join(labels)}" if labels else start
    base, number, existing = title, 2, set(taken)
    while title in existing:
        title, number = f"{base} ({number})", number + 1
    return title


Loras = tuple[tuple[str, float], ...]
# Loads a model file with GGUF LoRA adapters ((path, scale) pairs) over it.
Loader = Callable[[str, Loras], ModelInfo]


def run_comparison(
    engine: EngineClient, prompt: str, variants: Sequence[Variant],
    should_stop: Callable[[], bool] = lambda: False,
    load: Loader | None = None,
    open_remote: OpenRemote | None = None,
) -> Iterator[CompareEvent]:
    """Stream `prompt` through each variant in turn. A failing variant (a prompt too long
    for the context, a model that does not load, a server that does not answer) is reported
    and the next one runs; a crash of the local engine ends the run. `load(path, loras)` loads
    a variant's model with its adapters (default: same context size as now, on the CPU; the
    app and the CLI pass their load settings); the model loaded before, with its own adapters,
    is put back at the end. `open_remote(path)` gives a started engine for a remote variant
    (the callers pass `EngineRegistry.open`, a layer above this one); it is closed when the
    variant ends."""
    check_variants(prompt, variants)
    original = engine.model
    if original is None and any(v.model_path is None for v in variants):
        raise NoModelLoaded("No model is loaded: choose one before comparing.")
    fallback = LoadSettings(gpu_layers=0, n_ctx=original.n_ctx if original else DEFAULT_N_CTX)
    loader = load or (lambda path, loras: load_model(engine, path, fallback, loras))
    try:
        for index, variant in enumerate(variants):
            if should_stop():
                return
            if is_remote(variant.model_path):
                yield from _run_remote(index, variant, prompt, open_remote or _no_remote)
            else:
                yield from _run_one(engine, index, variant, prompt, original, loader)
    finally:
        current = engine.model
        if original is not None and engine.alive and (
                current is None or current.path != original.path
                or _loras_of(current) != _loras_of(original)):
            loader(original.path, _loras_of(original))


def _loras_of(model: ModelInfo) -> Loras:
    return tuple((lo.path, lo.scale) for lo in model.loras)


def _same_loras(a: Loras, b: Loras) -> bool:
    return [(os.path.abspath(p), s) for p, s in a] == [(os.path.abspath(p), s) for p, s in b]


def _run_one(engine: EngineClient, index: int, variant: Variant, prompt: str,
             original: ModelInfo | None, loader: Loader) -> Iterator[CompareEvent]:
    text = ""
    try:
        wanted = variant.model_path or (original.path if original else None)
        # A variant without adapters of its own runs the original model as it was loaded.
        loras = variant.loras or (_loras_of(original) if original and not variant.model_path
                                  else ())
        current = engine.model
        if wanted and (current is None or _differs(current.path, wanted)
                       or not _same_loras(_loras_of(current), loras)):
            loader(wanted, loras)
        assert engine.model is not None
        before = engine.model.control_vector
        if variant.control_vector is not None:
            engine.set_control_vector(*variant.control_vector)
        try:
            yield VariantStarted(index, engine.model.name, engine.model.path)
            for event in engine.generate(variant.messages(prompt), variant.sampling):
                text, out = _step(index, text, event)
                if out is not None:
                    yield out
        finally:
            if variant.control_vector is not None and engine.alive:
                # The next column (and the chat afterwards) steers as before this one.
                engine.set_control_vector(*(before or (None,)))
    except EngineCrashed:
        raise
    except GlassboxError as exc:
        yield VariantFailed(index, str(exc), text)


def _run_remote(index: int, variant: Variant, prompt: str, open_remote: OpenRemote
                ) -> Iterator[CompareEvent]:
    """A variant on a server. Its failures, a lost stream included, are that column's: the
    local engine and the other variants go on."""
    assert variant.model_path is not None
    text = ""
    try:
        remote = open_remote(variant.model_path)
        try:
            assert remote.model is not None
            yield VariantStarted(index, remote.model.name, remote.model.path)
            for event in remote.generate(variant.messages(prompt), variant.sampling):
                text, out = _step(index, text, event)
                if out is not None:
                    yield out
        finally:
            remote.close()
    except GlassboxError as exc:
        yield VariantFailed(index, str(exc), text)


def _step(index: int, text: str, event: object) -> tuple[str, CompareEvent | None]:
    """The text so far and the comparison event for one generation event."""
    if isinstance(event, TokenEvent):
        return text + event.text, VariantToken(index, event.text)
    if isinstance(event, DoneEvent):
        return text, VariantDone(index, event.text, event.finish_reason, event.stats)
    return text, None


def _no_remote(path: str) -> RemoteEngine:
    raise PromptError(f"{path} is a remote engine's model, and this comparison was started "
                      "without access to the saved engines.")


def _differs(a: str, b: str) -> bool:
    return Path(a).resolve() != Path(b).resolve()
