"""The base model as transformers reads it from the GGUF, kept on disk after the first load.

Reading a GGUF with transformers is slow in pure Python: its reader builds a field for each of
SmolLM2's 49k vocabulary entries and 49k merges (the tokenizer alone takes about 8 s on a
quiet machine, the model 20-30 s, over a minute on two busy cores), and every run, resume and
evaluation would pay it again. The first load saves the result (f32 safetensors and
tokenizer.json) in a cache folder keyed by the file's name, size and modification time; later
loads memory-map it in a second or two. The cost is disk: four bytes per parameter (540 MB for
SmolLM2-135M). A cache that cannot be written (a full disk) is skipped, never an error.

The folder is `<data>/finetune-cache/`, or `GLASSBOX_FINETUNE_CACHE` when set (tests share one
across their data folders).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from core.config import data_home
from core.finetune.runs import write_folder_atomic

log = logging.getLogger(__name__)
_DONE = "complete"  # written last: a folder without it is not used


def cache_root() -> Path:
    override = os.environ.get("GLASSBOX_FINETUNE_CACHE")
    return Path(override) if override else data_home() / "finetune-cache"


def cache_folder(base_gguf: Path) -> Path:
    stat = base_gguf.stat()
    key = f"{base_gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return cache_root() / f"{base_gguf.stem[:40]}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def clear_cache() -> int:
    """Remove every cached base model; returns the bytes freed."""
    root = cache_root()
    freed = sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) if root.is_dir() else 0
    shutil.rmtree(root, ignore_errors=True)
    return freed


def _quiet() -> None:
    # transformers draws progress bars for every load on the process's own stderr; the
    # training child reports progress as events instead, and a CLI's stderr is for them.
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_tokenizer(base_gguf: str | Path) -> Any:
    """transformers' tokenizer for the GGUF (from the cache when it is there)."""
    from transformers import AutoTokenizer

    path = Path(base_gguf)
    cached = cache_folder(path)
    if (cached / _DONE).is_file():
        return AutoTokenizer.from_pretrained(str(cached))
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def load_model(base_gguf: str | Path, tokenizer: Any) -> Any:
    """The f32 causal LM of the GGUF; the first load also fills the cache (with `tokenizer`,
    so the two always come from the same file)."""
    import torch
    from transformers import AutoModelForCausalLM

    _quiet()
    path = Path(base_gguf)
    cached = cache_folder(path)
    if (cached / _DONE).is_file():
        return AutoModelForCausalLM.from_pretrained(str(cached), dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                 dtype=torch.float32)

    def fill(tmp: Path) -> None:
        # Not model.save_pretrained: transformers marks a model read from a GGUF as
        # "quantized with gguf" (though its weights are plain f32 now) and refuses to save
        # it. The weights and a config without that mark make an ordinary checkpoint.
        from safetensors.torch import save_model

        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(str(tmp))
        save_model(model, str(tmp / "model.safetensors"))
        tokenizer.save_pretrained(str(tmp))
        (tmp / _DONE).write_text(str(path), encoding="utf-8")

    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_folder_atomic(cached, fill)
    except OSError as exc:
        log.warning("could not cache the dequantized base model in %s (%s); the next load "
                    "reads the GGUF again", cached, exc)
    return model
