"""What a training run reports, as plain data (sent from the child process up a pipe)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    """The run is preparing (loading the model, encoding the examples)."""

    what: str


@dataclass(frozen=True)
class Started:
    total_steps: int
    start_step: int  # > 0 when resumed from a checkpoint
    train_examples: int
    held_out_examples: int
    encoded: dict[str, int]  # EncodedSet.summary() of the training examples
    load_s: float
    estimate: str  # Estimate.describe()


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int
    epoch: int  # 1-based
    train_loss: float
    tokens_per_s: float
    seconds_left: float


@dataclass(frozen=True)
class Evaluated:
    step: int
    held_out_loss: float


@dataclass(frozen=True)
class Checkpointed:
    step: int
    path: str


@dataclass(frozen=True)
class Finished:
    """The last event of every run: status is completed, cancelled or failed."""

    status: str
    step: int
    total_steps: int
    adapter_path: str | None = None
    error: str | None = None
    held_out_loss: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "completed"


Event = Stage | Started | Progress | Evaluated | Checkpointed | Finished


def as_dict(event: Event) -> dict[str, Any]:
    """The event as JSON-ready data with its kind (for the CLI's --json and logs)."""
    return {"event": type(event).__name__.lower(), **asdict(event)}
