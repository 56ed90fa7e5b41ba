"""`glassbox models scan`: list the GGUF models other apps downloaded, and add chosen ones in
place (no copy)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from core.cli_shape import print_json, warn
from core.errors import GlassboxError
from core.models.metadata import format_bytes, format_parameters


def add_parser(sub: Any) -> argparse.ArgumentParser:
    scan = sub.add_parser(
        "scan", help="find GGUF models that Ollama, LM Studio, GPT4All or Jan downloaded "
                     "(and in folders you name); add them without copying")
    scan.add_argument("--folder", action="append", default=[], metavar="PATH",
                      help="also search this folder and the folders below it (repeatable)")
    scan.add_argument("--home", metavar="PATH",
                      help="look in the apps' folders under this home folder instead of "
                           "yours (another account, a mounted disk)")
    which = scan.add_mutually_exclusive_group()
    which.add_argument("--register", action="append", default=[], metavar="NAME",
                       help="add the found model NAME to the library, where it is "
                            "(repeatable)")
    which.add_argument("--register-all", action="store_true",
                       help="add every found model that is not in the library yet")
    scan.add_argument("--json", action="store_true", help="print JSON")
    return scan


def run_scan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.models.scan import find, register, scan

    result = scan(folders=args.folder, home=Path(args.home).expanduser() if args.home else None)
    if args.register_all:
        chosen = [m for m in result.models if not m.registered]
    else:
        chosen = []
        for name in args.register:
            model = find(result, name)
            if model is None:
                found = ", ".join(m.name for m in result.models) or "none"
                raise GlassboxError(f"No model called {name!r} was found (found: {found}). "
                                    "Use a NAME from the list `glassbox models scan` prints.")
            chosen.append(model)
    added, failed = [], []
    for model in chosen:
        try:
            added.append(register(model))
        except GlassboxError as exc:  # the file changed since the scan: say so, go on
            failed.append(f"{model.name}: {exc}")
    if args.json:
        print_json(out, result.to_dict() | {"registered": [e.to_dict() for e in added],
                                            "failed": failed}, indent=1)
    else:
        _print(out, result, added)
    for message in failed:
        warn(err, f"not added: {message}")
    return 1 if failed else 0


def _print(out: TextIO, result: Any, added: list[Any]) -> None:
    looked = [s for s in result.searched if s.exists]
    if not result.models:
        out.write("No GGUF models found")
        out.write(f" in {', '.join(s.path for s in looked)}.\n" if looked else
                  " (none of Ollama, LM Studio, GPT4All or Jan has a models folder here).\n")
    else:
        new = sum(1 for m in result.models if not m.registered)
        out.write(f"Found {len(result.models)} model{'s' * (len(result.models) != 1)} "
                  f"({new} not in the library yet):\n")
        rows = [["NAME", "APP", "ARCH", "PARAMS", "QUANT", "SIZE", "IN LIBRARY", "FILE"]]
        for m in result.models:
            f = m.facts
            rows.append([m.name, m.app, f.architecture, format_parameters(f.parameter_count),
                         f.quantization, format_bytes(f.file_size), m.registered_as or "",
                         m.path])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            out.write("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                      .rstrip() + "\n")
        for m in result.models:  # one file that several apps (or tags) share
            if m.aliases:
                out.write(f"  {m.name} is also {', '.join(m.aliases)} (the same file)\n")
    if result.skipped:
        out.write(f"Skipped {len(result.skipped)}:\n")
        out.writelines(f"  {s.message}\n" for s in result.skipped)
    for entry in added:
        out.write(f"Added {entry.name} (used in place: {entry.path}).\n")
    if not added and any(not m.registered for m in result.models):
        out.write("Add one with `glassbox models scan --register NAME` (or --register-all); "
                  "the files stay where they are.\n")
