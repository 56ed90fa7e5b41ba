"""The fine-tune lab: LoRA training of a GGUF base model, run in a child process.

Nothing here imports torch, transformers or peft at import time (the desktop's start path
imports core and must stay light); the modules that need them import them inside functions.

- `data`: examples from JSONL, CSV, saved chats, a preset's few-shot pairs or a document
  collection, and the seeded held-out split.
- `encode`: examples rendered through the model's chat template into token ids and labels
  (prompt masked, response learned), and a preview the window can draw.
- `settings`: the training settings, the base-model check and the memory/time estimate.
- `job`: `TrainingJob`, the parent side of a run (start, events, cancel, resume).
- `train_child`: the child process that trains, checkpoints and saves the adapter.
- `evaluate`: held-out perplexity with and without the adapter.
- `runs`: where adapters live and the manifest that keeps a run's state across restarts.
"""
