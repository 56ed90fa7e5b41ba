"""The fine-tune lab against a bare PEFT loop, on the bundled SmolLM2-135M:

- training tokens/s: a Glassbox run (TrainingJob: a spawned child with progress events,
  held-out evaluation and checkpoints every 20 steps) against a bare loop in its own spawned
  child over the same encoded examples, batches, LoRA settings, optimizer and threads: the
  same dequantized base (the lab's cache), `get_peft_model`, AdamW, forward, backward, step.
  Both count only the time inside training steps, so the ratio is the lab's cost per step;
- wall time of a whole run of 200 examples of up to 128 tokens, one epoch, from Start to the
  saved adapter (GGUF export not included), target 5 minutes on 2 cores;
- peak memory (resident) of each training process.

The examples are made here, not downloaded: short question/answer pairs about invented
places, each different, between about 40 and 128 tokens through the chat template.
"""

from __future__ import annotations

import multiprocessing
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from core.models.bundled import default_chat_model

EXAMPLES = 200
MAX_LENGTH = 128
WALL_TARGET_S = 300.0
_PLACES = ["Avalor", "Brenmoor", "Caldris", "Dunhollow", "Elmsreach", "Fenwick", "Glimmerton",
           "Harrowgate", "Isenmere", "Juniper Cove"]
_THINGS = ["bridges", "lanterns", "orchards", "libraries", "windmills", "harbours", "bells",
           "gardens", "towers", "markets"]


def _examples(count: int, seed: int = 7) -> list[Any]:
    from core.engine.types import ChatMessage
    from core.finetune.data import Example

    rng = random.Random(seed)
    out = []
    for i in range(count):
        place, thing = rng.choice(_PLACES), rng.choice(_THINGS)
        n = rng.randint(2, 40)
        detail = " ".join(rng.choice(_THINGS) for _ in range(rng.randint(3, 30)))
        prompt = f"Tell me about the {thing} of {place} (question {i})."
        answer = (f"{place} has {n} {thing}, famous across the valley. Travellers mention "
                  f"{detail}. Ask at the town hall for a map.")
        out.append(Example(messages=(ChatMessage("user", prompt),), response=answer))
    return out


def _bare_child(conn: Any, base: str, run_dir: str, settings_json: dict[str, Any]) -> None:
    """The baseline: the same encoded data, batches and settings through a plain PEFT loop."""
    import torch
    from peft import LoraConfig, get_peft_model

    from core.finetune.data import read_jsonl
    from core.finetune.encode import encode
    from core.finetune.evaluate import collate, pad_id, summed_loss
    from core.finetune.settings import TrainingSettings
    from core.finetune.train_child import _peak_rss_mb, epoch_batches, load_base

    settings = TrainingSettings.from_json(settings_json)
    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    model, tokenizer, template = load_base(Path(base))
    train = encode(read_jsonl(Path(run_dir) / "data" / "train.jsonl"), tokenizer, template,
                   settings.max_length, settings.drop_overlong)
    model = get_peft_model(model, LoraConfig(
        r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules), task_type="CAUSAL_LM"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=settings.learning_rate)
    pad = pad_id(tokenizer)
    model.train()
    tokens, seconds = 0, 0.0
    for epoch in range(settings.epochs):
        for batch in epoch_batches(train.examples, settings.batch_size, settings.seed, epoch):
            tick = time.perf_counter()
            tensors = collate(batch, pad)
            loss_sum, count = summed_loss(model, tensors)
            (loss_sum / max(count, 1)).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            seconds += time.perf_counter() - tick
            tokens += int(tensors["attention_mask"].sum())
    conn.send({"tokens_per_s": tokens / seconds, "peak_rss_mb": _peak_rss_mb(),
               "tokens": tokens})
    conn.close()


def _bare(base: Path, run_dir: Path, settings_json: dict[str, Any]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_bare_child,
                              args=(sender, str(base), str(run_dir), settings_json))
    process.start()
    sender.close()
    result: dict[str, Any] = receiver.recv()
    process.join()
    return result


def run() -> dict[str, Any]:
    from core.finetune.data import Dataset
    from core.finetune.job import TrainingJob
    from core.finetune.runs import read_manifest
    from core.finetune.settings import TrainingSettings

    base = default_chat_model()
    settings = TrainingSettings(max_length=MAX_LENGTH, epochs=1)
    dataset = Dataset(tuple(_examples(EXAMPLES)), "bench: invented places")
    with tempfile.TemporaryDirectory(prefix="glassbox-bench-ft-") as home:
        run_dir = Path(home) / "bench-run"
        started = time.perf_counter()
        job = TrainingJob(settings, dataset, base, run_dir)
        finished = job.run()
        wall_s = time.perf_counter() - started
        if not finished.ok:
            raise RuntimeError(f"the bench run failed: {finished.error}")
        manifest = read_manifest(run_dir)
        bare = _bare(base, run_dir, settings.to_json())
    ours_tps = float(manifest["tokens_per_s"])
    threads = settings.threads
    rows = [
        {"name": f"LoRA training tokens/s, {EXAMPLES} examples <= {MAX_LENGTH} tokens, "
                 f"rank {settings.rank} q/k/v/o, batch {settings.batch_size}, "
                 f"{threads} thread(s) (higher is better)",
         "unit": "tokens/s", "glassbox": round(ours_tps, 1),
         "baseline": round(float(bare["tokens_per_s"]), 1),
         "ratio": round(ours_tps / float(bare["tokens_per_s"]), 3), "target_ratio": 0.9,
         "higher_is_better": True,
         "baseline_is": "a bare PEFT loop on the same encoded batches in its own child"},
        {"name": f"wall time of the whole run ({EXAMPLES} examples, 1 epoch, load + train + "
                 "held-out evals + checkpoints + adapter save)",
         "unit": "s", "glassbox": round(wall_s, 1), "baseline": WALL_TARGET_S,
         "ratio": round(wall_s / WALL_TARGET_S, 3), "target_ratio": 1.0,
         "higher_is_better": False,
         "baseline_is": "the issue's 5-minute target"},
        {"name": "peak resident memory of the training process", "unit": "MB",
         "glassbox": manifest.get("peak_rss_mb"), "baseline": bare.get("peak_rss_mb"),
         "ratio": round(float(manifest["peak_rss_mb"]) / float(bare["peak_rss_mb"]), 3)
         if manifest.get("peak_rss_mb") and bare.get("peak_rss_mb") else None,
         "baseline_is": "the bare PEFT loop's process"},
    ]
    return {"name": "finetune", "figures": rows,
            "held_out_loss": manifest.get("held_out_loss"), "steps": finished.step}
