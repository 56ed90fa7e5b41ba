"""What takes the space in a built app: the total, the largest top-level parts, the largest files.

Usage: python packaging/size_report.py dist/Glassbox [--top 15] [--json]
Symbolic links count once (as the file they point to); the folder total is what `du` reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

MB = 2**20


def _files(root: Path) -> list[tuple[Path, int]]:
    return [(p, p.stat().st_size) for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


def _part(root: Path, path: Path) -> str:
    """The part a file belongs to: the package folder under _internal/ (or the top level),
    with PySide6's Qt split into libraries and plugins, which are trimmed separately."""
    rel = path.relative_to(root).parts
    if rel and rel[0] == "_internal":
        rel = rel[1:]
    if len(rel) > 3 and rel[:2] == ("PySide6", "Qt"):
        return "/".join(rel[:3])
    if len(rel) > 2 and rel[0] == "torch" and rel[1] == "lib":
        return "torch/lib"
    return rel[0] if len(rel) > 1 else "(top-level files)"


def size_report(root: Path, top: int = 15) -> dict[str, Any]:
    """Sizes in MB: total, by part (largest first) and the largest single files."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: build the app first (make package)")
    files = _files(root)
    parts: Counter[str] = Counter()
    for path, size in files:
        parts[_part(root, path)] += size
    largest = sorted(files, key=lambda f: -f[1])[:top]
    return {
        "root": str(root),
        "total_mb": round(sum(s for _, s in files) / MB, 1),
        "files": len(files),
        "parts_mb": {name: round(size / MB, 1) for name, size in parts.most_common(top)},
        "largest_files_mb": {str(p.relative_to(root)): round(s / MB, 1) for p, s in largest},
    }


def _print(report: dict[str, Any]) -> None:
    print(f"{report['root']}: {report['total_mb']:.1f} MB in {report['files']} files")
    print("largest parts:")
    for name, mb in report["parts_mb"].items():
        print(f"  {mb:8.1f} MB  {name}")
    print("largest files:")
    for name, mb in report["largest_files_mb"].items():
        print(f"  {mb:8.1f} MB  {name}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = size_report(args.root, args.top)
    except FileNotFoundError as exc:
        print(f"size_report: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
