"""A real app-like process for the kill harness: indexes a folder through DocumentLibrary.

Run as `python index_kill_driver.py DB FOLDER JOURNAL`. Files are parsed in the parse child,
chunked and stored as the app does; embeddings come from `HashEmbedder` (same interface as the
real one, deterministic, no torch import), so one trial costs a second instead of ten and the
full run of 1,000 trials fits in an hour. The harness SIGKILLs the process group at random.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIMENSION = 384


class HashEmbedder:
    """Unit vectors derived from each text's SHA-256: stable across processes and runs."""

    batch_size = 4  # small batches: more 'embedding' steps, more places for a kill to land
    dimension = DIMENSION

    def load(self) -> None:
        return None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
            row = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
            rows.append(row / np.linalg.norm(row))
        return np.stack(rows) if rows else np.zeros((0, DIMENSION), dtype=np.float32)


def main(db: Path, folder: Path, journal: Path) -> None:
    from core.rag.library import DocumentLibrary

    library = DocumentLibrary(db, embedder=HashEmbedder(), parse_time_limit_s=30)  # type: ignore[arg-type]
    library.add_paths("kill", [folder])
    with journal.open("a", encoding="utf-8") as out:
        out.write(f"ready {os.getpid()}\n")
        out.flush()
        for event in library.index_events("kill"):
            if event.stage in ("indexed", "skipped", "failed"):
                digest = hashlib.sha256(Path(event.path or "").read_bytes()).hexdigest()
                out.write(f"{event.stage} {digest} {event.path}\n")
                out.flush()
                os.fsync(out.fileno())
        out.write("finished\n")
        out.flush()
    library.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
