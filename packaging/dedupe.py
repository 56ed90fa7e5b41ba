"""Replace identical copies of a file in the same folder with symbolic links to one of them.

Python wheels cannot hold symbolic links, so llama-cpp-python ships each of its libraries three
times (libllama.so, libllama.so.0, libllama.so.0.5.0); PyInstaller copies what it is given.
Linking the copies to one file saves the space, and a library opened under two names is then
loaded once. Only identical files in the same folder are linked, so no path the app opens
changes. Not for Windows, where links need privileges: the Windows build skips this step.

Usage: python packaging/dedupe.py dist/Glassbox
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections import defaultdict
from pathlib import Path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def duplicate_groups(root: Path, min_bytes: int = 4096) -> list[list[Path]]:
    """Groups (two or more) of identical regular files that share a folder, largest first."""
    by_key: dict[tuple[Path, int], list[Path]] = defaultdict(list)
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size >= min_bytes:
            by_key[(path.parent, path.stat().st_size)].append(path)
    groups = []
    for candidates in by_key.values():
        if len(candidates) < 2:
            continue
        by_digest: dict[str, list[Path]] = defaultdict(list)
        for path in candidates:
            by_digest[_digest(path)].append(path)
        groups += [sorted(g, key=lambda p: (len(p.name), p.name)) for g in by_digest.values()
                   if len(g) > 1]
    return sorted(groups, key=lambda g: -g[0].stat().st_size)


def link_duplicates(root: Path) -> int:
    """Keep the longest name of each group as the file (the soname the loader asks for is
    usually the shorter one; either works) and link the others to it. Returns bytes saved."""
    saved = 0
    for group in duplicate_groups(root):
        keeper = group[-1]
        for copy in group[:-1]:
            saved += copy.stat().st_size
            copy.unlink()
            os.symlink(keeper.name, copy)
    return saved


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"dedupe: {args.root} is not a folder: build the app first (make package)",
              file=sys.stderr)
        return 2
    saved = link_duplicates(args.root)
    print(f"dedupe: linked identical copies, saved {saved / 2**20:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
