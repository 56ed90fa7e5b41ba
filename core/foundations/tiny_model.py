"""A tiny decoder-only transformer in llama's layout, so it exports exactly to llama.cpp.

Pre-norm blocks: RMSNorm, attention with rotary positions, RMSNorm, SwiGLU MLP; a final RMSNorm
and an output head tied to the token embedding (SmolLM2 ties them too, and llama.cpp's `llama`
architecture uses `token_embd` as the head when the file has no `output` tensor).

Rotary positions rotate ADJACENT pairs (x[2i], x[2i+1]), llama.cpp's "normal" RoPE, so the Q
and K weights go into the GGUF as they are (Hugging Face's rotate-half layout would need the
converter's row permutation).

The vocabulary: the chat model's tokenizer has 49,152 tokens, but a few KB of text use about a
thousand. The model keeps one row per token SEEN in the text plus ONE shared row standing for
every unseen token, and its loss is the exact full-vocabulary cross-entropy: the shared row's
logit is counted once per unseen token (`+ log(n_unseen)` inside the softmax). At export each
unseen token gets that shared row, so the GGUF computes the very same distribution over the
whole vocabulary that the model trained on, at a thousandth of the output layer's cost.

torch is imported inside functions: this module is imported by the window's start path.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from core.errors import FoundationsError

ROPE_BASE = 10000.0
RMS_EPS = 1e-5
FULL_VOCAB_GUESS = 49152  # only for estimates before the tokenizer is read


@dataclass(frozen=True)
class TinyConfig:
    """The tiny model's shape and its training settings (one default, one place)."""

    layers: int = 2
    heads: int = 4
    width: int = 128
    context: int = 64
    batch_size: int = 16
    learning_rate: float = 3e-3
    steps: int = 300
    eval_every: int = 25
    sample_every: int = 50
    seed: int = 0
    held_out_fraction: float = 0.1

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def ffn(self) -> int:
        # llama's 8/3 width, rounded up to a multiple of 32 (what Meta's code does with 256)
        return 32 * math.ceil(self.width * 8 / 3 / 32)

    def validate(self) -> None:
        """Raise FoundationsError for a shape or setting the model cannot have."""
        checks = [
            (self.layers >= 1, f"layers must be at least 1 (got {self.layers})"),
            (self.heads >= 1, f"heads must be at least 1 (got {self.heads})"),
            (self.width >= 8 and self.width % self.heads == 0,
             f"width {self.width} must be at least 8 and a multiple of heads ({self.heads})"),
            (self.head_dim % 2 == 0,
             f"width / heads = {self.head_dim} must be even (rotary positions turn pairs)"),
            (self.context >= 4, f"context must be at least 4 tokens (got {self.context})"),
            (self.batch_size >= 1, f"batch size must be at least 1 (got {self.batch_size})"),
            (math.isfinite(self.learning_rate) and self.learning_rate > 0,
             f"learning rate must be a positive number (got {self.learning_rate})"),
            (self.steps >= 1, f"steps must be at least 1 (got {self.steps})"),
            (self.eval_every >= 1 and self.sample_every >= 1,
             "eval and sample intervals must be at least 1 step"),
            (0.01 <= self.held_out_fraction <= 0.5,
             f"held-out fraction must be between 0.01 and 0.5 (got {self.held_out_fraction})"),
        ]
        for ok, message in checks:
            if not ok:
                raise FoundationsError(f"Cannot build this tiny model: {message}.")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TinyConfig:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def parameter_count(config: TinyConfig, vocab_rows: int) -> int:
    """Trainable parameters with `vocab_rows` embedding rows (tied head)."""
    d, f = config.width, config.ffn
    block = 2 * d + 4 * d * d + 3 * d * f  # two norms, q k v o, gate up down
    return vocab_rows * d + config.layers * block + d


def memory_estimate_bytes(config: TinyConfig, vocab_rows: int,
                          full_vocab: int = FULL_VOCAB_GUESS) -> int:
    """What training needs at most: weights, gradients and Adam's two moments (4 x float32
    per parameter), the activations autograd keeps for one batch, and the exported file's
    full-vocabulary embedding built at the end."""
    params = parameter_count(config, vocab_rows)
    b, t, d, h = config.batch_size, config.context, config.width, config.heads
    # per layer: norms, q k v, scores and probabilities (b*h*t*t each), mlp (3 x ffn), residuals
    per_layer = b * t * (8 * d + 3 * config.ffn) + 2 * b * h * t * t
    activations = config.layers * per_layer + 2 * b * t * vocab_rows
    return 4 * (4 * params + activations + full_vocab * d)


def available_memory_bytes() -> int:
    """Memory the machine can give now (psutil), or a cautious 2 GB when it cannot say."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil missing or refused by the platform
        return 2 * 1024**3


def check_fits(config: TinyConfig, vocab_rows: int, budget: int | None = None) -> int:
    """The memory estimate, or FoundationsError when it exceeds half of what is free."""
    need = memory_estimate_bytes(config, vocab_rows)
    limit = (available_memory_bytes() // 2) if budget is None else budget
    if need > limit:
        raise FoundationsError(
            f"This model would need about {need / 1e9:.1f} GB to train ({config.layers} layers "
            f"of width {config.width}, context {config.context}, batch {config.batch_size}); "
            f"about {limit / 1e9:.1f} GB can be spared. Make it narrower, shallower, or use "
            "a shorter context or a smaller batch.")
    return need


def build_model(config: TinyConfig, vocab_rows: int) -> Any:
    """A fresh TinyLlama (torch.nn.Module) seeded with `config.seed`."""
    import torch

    torch.manual_seed(config.seed)
    return _classes()["TinyLlama"](config, vocab_rows)


_CLASSES: dict[str, Any] = {}


def _classes() -> dict[str, Any]:
    """The torch classes, defined on first use so importing this module needs no torch."""
    if _CLASSES:
        return _CLASSES
    import torch
    from torch import nn
    from torch.nn import functional as F

    class RMSNorm(nn.Module):
        def __init__(self, dim: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(dim))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_EPS) * self.weight

    def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # adjacent pairs (x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos): llama.cpp's normal RoPE
        even, odd = x[..., 0::2], x[..., 1::2]
        return torch.stack((even * cos - odd * sin, even * sin + odd * cos), -1).flatten(-2)

    class Attention(nn.Module):
        def __init__(self, c: TinyConfig) -> None:
            super().__init__()
            self.heads, self.head_dim = c.heads, c.head_dim
            self.q = nn.Linear(c.width, c.width, bias=False)
            self.k = nn.Linear(c.width, c.width, bias=False)
            self.v = nn.Linear(c.width, c.width, bias=False)
            self.o = nn.Linear(c.width, c.width, bias=False)

        def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                    keep: list[torch.Tensor] | None) -> torch.Tensor:
            b, t, _ = x.shape
            shape = (b, t, self.heads, self.head_dim)
            q = rotate(self.q(x).view(shape), cos, sin).transpose(1, 2)
            k = rotate(self.k(x).view(shape), cos, sin).transpose(1, 2)
            v = self.v(x).view(shape).transpose(1, 2)
            if keep is None:
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # the explicit softmax, to show the probabilities
                scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
                mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
                probs = scores.masked_fill(mask, float("-inf")).softmax(-1)
                keep.append(probs.detach())
                out = probs @ v
            return self.o(out.transpose(1, 2).reshape(b, t, -1))

    class Block(nn.Module):
        def __init__(self, c: TinyConfig) -> None:
            super().__init__()
            self.attn_norm = RMSNorm(c.width)
            self.attn = Attention(c)
            self.ffn_norm = RMSNorm(c.width)
            self.gate = nn.Linear(c.width, c.ffn, bias=False)
            self.up = nn.Linear(c.width, c.ffn, bias=False)
            self.down = nn.Linear(c.ffn, c.width, bias=False)

        def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                    keep: list[torch.Tensor] | None) -> torch.Tensor:
            x = x + self.attn(self.attn_norm(x), cos, sin, keep)
            h = self.ffn_norm(x)
            return x + self.down(F.silu(self.gate(h)) * self.up(h))

    class TinyLlama(nn.Module):
        """Rows 0..n-2 of `embed` are the seen tokens, row n-1 stands for every unseen one."""

        def __init__(self, c: TinyConfig, vocab_rows: int) -> None:
            super().__init__()
            self.config = c
            self.embed = nn.Embedding(vocab_rows, c.width)
            self.blocks = nn.ModuleList(Block(c) for _ in range(c.layers))
            self.norm = RMSNorm(c.width)
            self.apply(self._init)
            self.unseen_log_count = 0.0  # log(number of unseen vocabulary tokens)

        @staticmethod
        def _init(module: nn.Module) -> None:
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)

        def rope(self, t: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
            d = self.config.head_dim
            inv = ROPE_BASE ** (-torch.arange(0, d, 2, device=device, dtype=torch.float32) / d)
            angles = torch.arange(t, device=device, dtype=torch.float32)[:, None] * inv
            return angles.cos()[:, None, :], angles.sin()[:, None, :]  # (t, 1, d/2)

        def hidden(self, ids: torch.Tensor, keep: list[torch.Tensor] | None = None
                   ) -> torch.Tensor:
            x = self.embed(ids)
            cos, sin = self.rope(ids.shape[1], ids.device)
            for block in self.blocks:
                x = block(x, cos, sin, keep)
            return self.norm(x)

        def forward(self, ids: torch.Tensor, keep: list[torch.Tensor] | None = None
                    ) -> torch.Tensor:
            """Logits over the rows, the last one raised by log(n_unseen): log-softmax of
            this is the full-vocabulary log-probability of each seen token."""
            logits = self.hidden(ids, keep) @ self.embed.weight.T
            if self.unseen_log_count:
                bump = torch.zeros(logits.shape[-1], device=logits.device)
                bump[-1] = self.unseen_log_count
                logits = logits + bump
            return logits

        def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            logits = self(ids)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    _CLASSES.update(TinyLlama=TinyLlama)
    return _CLASSES
