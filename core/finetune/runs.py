"""Where adapters live, and the manifest that keeps a run's state across restarts.

A run is a folder, `<data>/adapters/<name>/`:

    manifest.json        settings, base model (path, size, sha256), data summary, split,
                         status, loss history, last checkpoint, evaluation
    data/train.jsonl     the examples trained on, and the ones held out (so a resume, or an
    data/held_out.jsonl  evaluation next week, uses exactly the same split)
    checkpoints/step-N/  the latest checkpoint (adapter weights, optimizer state, step)
    adapter/             the finished PEFT adapter (only ever complete: written aside, renamed)
    adapter.gguf         the adapter for llama.cpp, when the exporter is installed

Every file here is replaced by a rename, never rewritten in place: a crash or a full disk
leaves the previous version, not half of the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.atomic import fsync_folder, write_json_atomic
from core.config import data_home
from core.errors import TrainingError

MANIFEST = "manifest.json"
ADAPTER_DIR = "adapter"
GGUF_ADAPTER = "adapter.gguf"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Run states. "running" on disk with no child alive means the app or the child died: resumable.
STATUSES = ("created", "running", "cancelled", "failed", "completed")


def adapters_home() -> Path:
    """The folder that holds every adapter run (moves with GLASSBOX_HOME)."""
    folder = data_home() / "adapters"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_folder(name: str) -> Path:
    """The folder of the adapter called `name` (which must be a plain file name)."""
    if not _NAME.match(name) or name in (".", ".."):
        raise TrainingError(f"{name!r} cannot name an adapter: use letters, digits, '.', '_' "
                            "or '-' (up to 64, starting with a letter or digit).")
    return adapters_home() / name


def list_runs() -> list[dict[str, Any]]:
    """Every run's manifest, newest first (folders without a readable manifest are left out)."""
    manifests = []
    for folder in adapters_home().iterdir():
        try:
            manifests.append(read_manifest(folder))
        except TrainingError:
            continue
    return sorted(manifests, key=lambda m: m.get("created_at", 0), reverse=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / MANIFEST
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingError(f"No fine-tuning run in {run_dir} (no {MANIFEST}).") from None
    except (OSError, ValueError) as exc:
        raise TrainingError(f"The run's {MANIFEST} in {run_dir} cannot be read ({exc}).") \
            from None
    if not isinstance(value, dict):
        raise TrainingError(f"The run's {MANIFEST} in {run_dir} is not a JSON object.")
    return value


def update_manifest(run_dir: Path, **changes: Any) -> dict[str, Any]:
    """Read, change and atomically rewrite the manifest (one writer at a time: the child
    while it runs, the parent only before it starts or after it has ended)."""
    manifest = read_manifest(run_dir)
    manifest.update(changes)
    manifest["updated_at"] = time.time()
    write_json_atomic(Path(run_dir) / MANIFEST, manifest)
    return manifest


def write_folder_atomic(target: Path, fill: Callable[[Path], None]) -> Path:
    """Make the folder `target` by letting `fill` write into a fresh temporary folder beside
    it, then renaming that into place. On any failure (a full disk) the temporary folder is
    removed and whatever was at `target` before is untouched."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        old = None
        if target.exists():
            # os.replace cannot put a folder over a non-empty one: move the old aside first;
            # between the two renames a reader finds `old`, which recovery puts back.
            old = target.with_name(f".{target.name}.{os.getpid()}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        fsync_folder(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
