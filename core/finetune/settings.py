"""Training settings, the base-model check, and what a run will cost before it starts.

The costs are estimates from measured figures on the reference machine (2 CPU threads):
SmolLM2-135M loaded from its GGUF by transformers dequantizes to f32 in about 20-30 s, and
LoRA rank 8 on q/k/v/o trains about 190 tokens/s. Other models scale by parameter count,
which is rough (attention cost grows with length too) and is shown as an estimate.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from core.errors import TrainingError, UnsupportedBaseModel

# Measured on SmolLM2-135M (134.5M parameters), 2 threads, batches of 8 x 25 tokens.
REFERENCE_PARAMETERS = 134_515_008
REFERENCE_TOKENS_PER_S = 190.0
REFERENCE_LOAD_S = 25.0
# GGUF architectures transformers reads whose models are not causal LMs we can train here.
_NOT_CAUSAL = {"t5", "t5encoder", "umt5", "general", "tokenizer"}


def default_threads() -> int:
    """All cores but one. Measured on 2 busy cores: 1 thread trained about 20 tokens/s and
    2 threads about 4, because torch's threads spin waiting for each other when another
    process holds a core; the spare core also keeps the window and a chat responsive."""
    return max(1, (os.cpu_count() or 2) - 1)


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainingSettings:
    """Everything a run is started with; saved in its manifest so a resume uses the same."""

    rank: int = _setting(8, "LoRA rank: the size of the small matrices learned beside each "
                         "weight. Higher learns more, costs more memory and time.")
    alpha: int = _setting(16, "LoRA alpha: how strongly the learned change is applied "
                          "(scaled by alpha / rank). Twice the rank is a common choice.")
    dropout: float = _setting(0.05, "LoRA dropout: randomly drops part of the adapter's input "
                              "while training, so it memorises less.")
    target_modules: tuple[str, ...] = _setting(
        ("q_proj", "k_proj", "v_proj", "o_proj"),
        "Which weight matrices get an adapter: the attention projections by default.")
    learning_rate: float = _setting(2e-4, "Learning rate: the size of each update. Too high "
                                    "and the loss jumps around; too low and little changes.")
    epochs: int = _setting(1, "Epochs: how many times training goes through every example.")
    max_length: int = _setting(256, "Maximum tokens per example; longer examples are cut "
                               "(or dropped, if chosen). Memory grows with it.")
    batch_size: int = _setting(4, "Examples per step; the loss is averaged over them.")
    seed: int = _setting(1234, "Random seed for the held-out split, the adapter's starting "
                         "values and the example order: same seed, same run.")
    held_out_fraction: float = _setting(0.1, "Share of examples never trained on, used to "
                                        "measure whether training generalises (at least 1).")
    eval_every: int = _setting(20, "Steps between held-out loss measurements (also at the "
                               "end).")
    checkpoint_every: int = _setting(20, "Steps between checkpoints a stopped run resumes "
                                     "from.")
    drop_overlong: bool = _setting(False, "Drop examples longer than the maximum instead of "
                                   "cutting them.")
    threads: int = field(default_factory=lambda: default_threads(), metadata={
        "help": "CPU threads for training (default: all cores but one, left for the app)."})

    def validate(self) -> None:
        """Raise TrainingError naming the first setting out of range."""
        for name in ("rank", "alpha", "epochs", "max_length", "batch_size", "eval_every",
                     "checkpoint_every", "threads"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name.replace('_', ' ')} must be at least 1.")
        if self.max_length < 8:
            raise TrainingError("max length must be at least 8 tokens.")
        if not 0 < self.learning_rate < 1:
            raise TrainingError("learning rate must be between 0 and 1 (2e-4 is typical).")
        if not 0 <= self.dropout < 1:
            raise TrainingError("dropout must be at least 0 and below 1.")
        if not 0 < self.held_out_fraction < 1:
            raise TrainingError("held-out fraction must be between 0 and 1.")
        if not self.target_modules:
            raise TrainingError("name at least one target module (e.g. q_proj).")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> TrainingSettings:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in value.items() if k in known}
        if "target_modules" in data:
            data["target_modules"] = tuple(data["target_modules"])
        return cls(**data)


def explain(name: str) -> str:
    """The one-line explanation of a setting, for tooltips and `--help`."""
    for f in fields(TrainingSettings):
        if f.name == name:
            return str(f.metadata["help"])
    raise KeyError(name)


@dataclass(frozen=True)
class BaseModelFacts:
    path: str
    architecture: str
    parameter_count: int
    file_size: int
    metadata: dict[str, Any] = field(repr=False, compare=False)


def supported_architectures() -> frozenset[str]:
    """GGUF architectures transformers can load as a trainable causal LM (read from the
    installed transformers, so an upgrade that adds some is picked up)."""
    from transformers.integrations.ggml import GGUF_CONFIG_MAPPING  # no torch import

    return frozenset(GGUF_CONFIG_MAPPING) - _NOT_CAUSAL


def check_base_model(path: str | Path) -> BaseModelFacts:
    """The base model's header facts; raises UnsupportedBaseModel (before anything loads)
    when transformers cannot turn its architecture into a trainable model, ModelLoadError
    when the file is not a sound GGUF."""
    from core.gguf.reader import read_header

    header = read_header(path)
    arch = str(header.metadata.get("general.architecture", ""))
    supported = supported_architectures()
    if arch not in supported:
        raise UnsupportedBaseModel(
            f"{Path(path).name} is a {arch or 'unnamed'!s} model; fine-tuning loads the base "
            "model with transformers, which reads these GGUF architectures: "
            f"{', '.join(sorted(supported))}. Pick a base model of one of those.")
    return BaseModelFacts(str(path), arch, header.parameter_count, header.actual_size,
                          header.metadata)


@dataclass(frozen=True)
class Estimate:
    """What a run should cost, before it starts (every figure is an estimate)."""

    parameters: int
    lora_parameters: int
    weights_bytes: int  # the base model dequantized to f32
    training_state_bytes: int  # LoRA weights, their gradients and AdamW's two moments
    activations_bytes: int
    total_bytes: int
    tokens_per_epoch: int
    steps: int
    tokens_per_s: float
    load_s: float
    train_s: float

    def describe(self) -> str:
        gib = self.total_bytes / 2**30
        return (f"about {gib:.1f} GiB of memory, {self.steps} steps, about "
                f"{(self.load_s + self.train_s) / 60:.1f} min (estimated from "
                f"{self.tokens_per_s:.0f} tokens/s)")


def _module_shape(name: str, meta: dict[str, Any], arch: str) -> tuple[int, int]:
    """(in, out) features of one target projection, from the GGUF's hyperparameters."""
    hidden = int(meta.get(f"{arch}.embedding_length", 0) or 0)
    heads = int(meta.get(f"{arch}.attention.head_count", 1) or 1)
    kv_heads = int(meta.get(f"{arch}.attention.head_count_kv", heads) or heads)
    head_dim = int(meta.get(f"{arch}.attention.key_length", 0) or 0) or hidden // heads
    ffn = int(meta.get(f"{arch}.feed_forward_length", 0) or 0) or 4 * hidden
    shapes = {"q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv_heads * head_dim),
              "v_proj": (hidden, kv_heads * head_dim), "o_proj": (heads * head_dim, hidden),
              "gate_proj": (hidden, ffn), "up_proj": (hidden, ffn), "down_proj": (ffn, hidden)}
    return shapes.get(name, (hidden, hidden))


def estimate(settings: TrainingSettings, base: BaseModelFacts, train_tokens: int,
             train_examples: int) -> Estimate:
    """Memory and time for `settings` on `base` with `train_tokens` tokens in
    `train_examples` examples per epoch (from `encode`)."""
    meta, arch = base.metadata, base.architecture
    layers = int(meta.get(f"{arch}.block_count", 0) or 0)
    hidden = int(meta.get(f"{arch}.embedding_length", 0) or 0)
    vocab = int(meta.get(f"{arch}.vocab_size", 0) or 0) or 50_000  # typical when unsaid
    lora = sum(settings.rank * sum(_module_shape(m, meta, arch))
               for m in settings.target_modules) * layers
    steps_per_epoch = -(-train_examples // settings.batch_size)
    # Per token and layer, a backward pass keeps roughly a dozen hidden-sized f32 tensors;
    # the logits (batch x length x vocab, f32) and their gradient dominate small models.
    tokens_in_batch = settings.batch_size * settings.max_length
    activations = tokens_in_batch * 4 * (12 * hidden * layers + 3 * vocab)
    weights = base.parameter_count * 4
    state = lora * 4 * 4
    scale = base.parameter_count / REFERENCE_PARAMETERS if base.parameter_count else 1.0
    speed = REFERENCE_TOKENS_PER_S / max(scale, 1e-3) * settings.threads / 2
    return Estimate(
        parameters=base.parameter_count, lora_parameters=lora, weights_bytes=weights,
        training_state_bytes=state, activations_bytes=activations,
        total_bytes=weights + state + activations, tokens_per_epoch=train_tokens,
        steps=steps_per_epoch * settings.epochs, tokens_per_s=speed,
        load_s=REFERENCE_LOAD_S * scale, train_s=train_tokens * settings.epochs / speed)
