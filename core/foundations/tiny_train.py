"""Train a tiny transformer on a text: an iterator of plain events with pause and cancel.

`train(config, text, tokenizer_gguf, run_dir)` checks the text and the memory estimate before
any weight exists (FoundationsError), then yields Started, a Step per gradient step, and every
`eval_every` steps the held-out loss, the probe sentence's attention maps and the embedding map,
every `sample_every` steps a sample (step 0 included: noise), and last a Finished. The latest
checkpoint (`run_dir/checkpoint.pt`: weights, Adam state, the vocabulary) is written at each
evaluation, on pause, on cancel and at the end; `resume=True` continues from it.

A loss that stops being finite, or climbs far above where it started, ends the run
"diverged" with a plain explanation rather than training on garbage.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from core.errors import FoundationsError
from core.foundations.tiny_data import TextData, Tokenizer, prepare
from core.foundations.tiny_events import (
    AttentionMaps,
    Embeddings,
    Event,
    Finished,
    HeldOut,
    Paused,
    Sample,
    Started,
    Step,
)
from core.foundations.tiny_model import (
    TinyConfig,
    build_model,
    check_fits,
    parameter_count,
)

CHECKPOINT = "checkpoint.pt"
PROBE = "The little model reads every word of this sentence."
SAMPLE_TOKENS = 40
_CLIP = 1.0
_PAUSE_POLL_S = 0.05
_HELD_OUT_WINDOWS = 32  # enough windows for a steady held-out loss, few enough to be quick
# One thread: the matrices are tiny, and on a loaded 2-core machine a 2-thread step took 0.72 s
# against 0.054 s on one (the threads spin waiting for each other).
THREADS = 1


class Flag(Protocol):
    """threading.Event or multiprocessing.Event: all a run needs of a cancel or pause token."""

    def is_set(self) -> bool: ...


def _windows(rows: Any, context: int, starts: Any) -> tuple[Any, Any]:
    import torch

    idx = starts[:, None] + torch.arange(context + 1)[None, :]
    chunk = rows[idx]
    return chunk[:, :-1], chunk[:, 1:]


class _Run:
    """The state of one run: model, optimiser, data, and the things each event needs."""

    def __init__(self, config: TinyConfig, data: TextData, tokenizer: Tokenizer,
                 run_dir: Path) -> None:
        import torch

        self.config, self.data, self.tokenizer, self.run_dir = config, data, tokenizer, run_dir
        self.model = build_model(config, data.vocab.rows)
        self.model.unseen_log_count = math.log(max(data.vocab.unseen_count, 1))
        self.optim = torch.optim.AdamW(self.model.parameters(), lr=config.learning_rate,
                                       betas=(0.9, 0.95), weight_decay=0.0)
        self.train_rows = torch.from_numpy(data.train)
        self.held_rows = torch.from_numpy(data.held_out)
        self.gen = torch.Generator().manual_seed(config.seed)
        self.step = 0
        row_of = {t: r for r, t in enumerate(data.vocab.seen)}
        unseen_row = data.vocab.rows - 1
        self.probe_ids = [row_of.get(t, unseen_row) for t in tokenizer.encode(PROBE)]
        self.probe_pieces = tuple(tokenizer.piece(t) for t in tokenizer.encode(PROBE))
        self.prompt_rows = [int(r) for r in data.train[:4]]
        self.prompt = tokenizer.decode([data.vocab.seen[r] for r in self.prompt_rows])
        held_n = len(data.held_out) - config.context - 1
        count = min(_HELD_OUT_WINDOWS, held_n + 1)
        self.held_starts = torch.linspace(0, held_n, count).long()

    # -- training ----------------------------------------------------------------------------
    def train_step(self) -> float:
        import torch

        c = self.config
        high = len(self.train_rows) - c.context - 1
        starts = torch.randint(0, high + 1, (c.batch_size,), generator=self.gen)
        x, y = _windows(self.train_rows, c.context, starts)
        loss = self.model.loss(x, y)
        self.optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), _CLIP)
        self.optim.step()
        self.step += 1
        return float(loss.detach())

    # -- looking at it -----------------------------------------------------------------------
    def held_out_loss(self) -> float:
        import torch

        with torch.no_grad():
            x, y = _windows(self.held_rows, self.config.context, self.held_starts)
            return float(self.model.loss(x, y))

    def sample(self) -> Sample:
        import torch

        # the same seed every time, so samples differ only because the weights do
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        vocab = self.data.vocab
        rows = list(self.prompt_rows)
        out: list[int] = []
        seen = set(vocab.seen)
        with torch.no_grad():
            for _ in range(SAMPLE_TOKENS):
                ids = torch.tensor([rows[-self.config.context:]])
                probs = (self.model(ids)[0, -1] / 0.8).softmax(-1)
                row = int(torch.multinomial(probs, 1, generator=gen))
                rows.append(row)
                if row < len(vocab.seen):
                    out.append(vocab.seen[row])
                else:  # the shared row: one of the tokens the text never used, at random
                    token = int(torch.randint(0, vocab.full_size, (1,), generator=gen))
                    while token in seen:
                        token = (token + 1) % vocab.full_size
                    out.append(token)
        return Sample(self.step, self.prompt, self.tokenizer.decode(out))

    def attention(self) -> AttentionMaps:
        import torch

        keep: list[Any] = []
        with torch.no_grad():
            self.model(torch.tensor([self.probe_ids]), keep=keep)
        maps = torch.stack([k[0] for k in keep]).numpy()
        return AttentionMaps(self.step, self.probe_pieces, maps)

    def embeddings(self) -> Embeddings:
        from core.pca import pca_2d

        weights = self.model.embed.weight.detach()[:-1].numpy()
        xy, explained = pca_2d(weights)
        return Embeddings(self.step, self.data.vocab.pieces, xy, explained)

    # -- checkpoints -------------------------------------------------------------------------
    def save(self) -> str:
        import torch

        path = self.run_dir / CHECKPOINT
        temp = path.with_name(f".{path.name}.{os.getpid()}.part")
        v = self.data.vocab
        state = {"config": self.config.to_json(), "step": self.step,
                 "vocab": {"tokenizer_path": v.tokenizer_path, "full_size": v.full_size,
                           "seen": list(v.seen), "pieces": list(v.pieces)},
                 "model": self.model.state_dict(), "optim": self.optim.state_dict(),
                 "gen": self.gen.get_state()}
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            torch.save(state, temp)
            os.replace(temp, path)
        except OSError as exc:
            raise FoundationsError(f"Cannot save the checkpoint in {self.run_dir}: "
                                   f"{exc.strerror or exc}") from exc
        finally:
            temp.unlink(missing_ok=True)
        return str(path)

    def load(self) -> None:
        import torch

        path = self.run_dir / CHECKPOINT
        if not path.is_file():
            return  # nothing saved yet: start from step 0
        state = torch.load(path, weights_only=False)
        if list(state["vocab"]["seen"]) != list(self.data.vocab.seen):
            raise FoundationsError(f"The checkpoint in {self.run_dir} was trained on another "
                                   "text; pick that text again or start a new run.")
        self.model.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optim"])
        self.gen.set_state(state["gen"])
        self.step = int(state["step"])


def _diverged(loss: float, first: float, lr: float, step: int) -> str | None:
    if math.isfinite(loss) and loss <= 2 * first + 5:
        return None
    shown = "NaN" if math.isnan(loss) else ("infinite" if not math.isfinite(loss)
                                            else f"{loss:.1f}, up from {first:.1f}")
    return (f"Training stopped at step {step}: the loss went to {shown}. The learning rate "
            f"{lr:g} is too high, so each step overshoots and the weights blow up. Try about "
            f"{lr / 10:g}.")


def train(config: TinyConfig, text: str, tokenizer_gguf: str | Path, run_dir: str | Path, *,
          cancel: Flag | None = None, pause: Flag | None = None, resume: bool = False,
          memory_budget: int | None = None) -> Iterator[Event]:
    """Train a tiny model on `text` (see the module docstring). Raises FoundationsError before
    the first event for an empty or too short text, a bad setting, or a model too big."""
    import torch

    config.validate()
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        yield from _train(config, text, tokenizer_gguf, Path(run_dir), cancel, pause, resume,
                          memory_budget)
    finally:
        torch.set_num_threads(before)


def _train(config: TinyConfig, text: str, tokenizer_gguf: str | Path, run_dir: Path,
           cancel: Flag | None, pause: Flag | None, resume: bool,
           memory_budget: int | None) -> Iterator[Event]:
    tokenizer = Tokenizer(tokenizer_gguf)
    data = prepare(text, tokenizer, config.context, config.held_out_fraction)
    need = check_fits(config, data.vocab.rows, memory_budget)
    run = _Run(config, data, tokenizer, run_dir)
    if resume:
        run.load()
    yield Started(parameter_count(config, data.vocab.rows),
                  parameter_count(config, data.vocab.full_size), data.vocab.rows,
                  data.vocab.full_size, len(data.train), len(data.held_out),
                  data.unigram_entropy, need, run.step, config.steps)
    yield from _observe(run, with_sample=True)
    first: float | None = None
    tokens = config.batch_size * config.context
    spent = 0.0
    done_here = 0
    while run.step < config.steps:
        if cancel is not None and cancel.is_set():
            yield Finished("cancelled", run.step, f"Cancelled at step {run.step}; the "
                           "checkpoint can resume or be exported.", run.save())
            return
        if pause is not None and pause.is_set():
            yield Paused(run.step, run.save())
            while pause.is_set() and not (cancel is not None and cancel.is_set()):
                time.sleep(_PAUSE_POLL_S)
            continue
        began = time.perf_counter()
        loss = run.train_step()
        spent += time.perf_counter() - began
        done_here += 1
        first = loss if first is None else first
        why = _diverged(loss, first, config.learning_rate, run.step)
        yield Step(run.step, loss, tokens * done_here / spent if spent > 0 else 0.0)
        if why is not None:
            # the weights are garbage now: keep the last good checkpoint as it is
            last = run.run_dir / CHECKPOINT
            yield Finished("diverged", run.step, why, str(last) if last.is_file() else None)
            return
        evaluate = run.step % config.eval_every == 0 or run.step == config.steps
        sample = run.step % config.sample_every == 0 or run.step == config.steps
        if evaluate or sample:
            yield from _observe(run, with_sample=sample, with_eval=evaluate)
            if evaluate:
                run.save()
    yield Finished("done", run.step, f"Trained {run.step} steps.", run.save())


def _observe(run: _Run, with_sample: bool, with_eval: bool = True) -> Iterator[Event]:
    if with_eval:
        yield HeldOut(run.step, run.held_out_loss())
        yield run.attention()
        yield run.embeddings()
    if with_sample:
        yield run.sample()
