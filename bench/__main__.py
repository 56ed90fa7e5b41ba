"""`make bench`: run every benchmark (or those named: `python -m bench startup memory`), print
ratios, save bench/results/<name>.json and rebuild the table in bench/README.md."""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench.report import rows_of, target_of, write_readme

RESULTS = Path(__file__).parent / "results"
# Cheapest first, so a broken set-up shows early; each is a module of bench/ with run().
BENCHMARKS = ("startup", "generation", "gui_stall", "memory", "introspection", "capture",
              "learn_panels", "quant_lab", "server", "finetune", "rag_quality", "rag_indexing",
              "mixed_load", "rag_search", "evals", "mcp_host", "foundations_boundary",
              "foundations_tiny", "attribution", "steering")
# Run by name only: it needs the packaged app (`make package`, minutes) built first.
ON_REQUEST = ("package",)


def machine() -> str:
    """The CPU in words: model name, cores, architecture."""
    model = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.machine()}"


def _line(row: dict[str, Any]) -> str:
    unit = f" {row['unit']}" if "unit" in row else ""
    line = (f"{row['name']}: glassbox {row['glassbox']}{unit} vs baseline "
            f"{row['baseline']}{unit} -> ratio {row['ratio']}")
    target = target_of(row)
    if target != "—":
        line += f" (target {target})"
    noisy = [side for side in ("glassbox", "baseline")
             if row.get(f"{side}_spread", {}).get("noisy")]
    if noisy:
        line += f" [spread too large to trust: {', '.join(noisy)}]"
    return line


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHMARKS + ON_REQUEST]
    if unknown:
        known = ", ".join(BENCHMARKS + ON_REQUEST)
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {known}", file=sys.stderr)
        return 2
    RESULTS.mkdir(exist_ok=True)
    where = machine()
    run_started = time.perf_counter()
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        result = module.run()
        result["machine"] = where
        result["bench_s"] = round(time.perf_counter() - started, 1)
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        for row in rows_of(result):
            print(_line(row), flush=True)
        if "heavy_not_imported_at_shown" in result:
            print(f"not imported when the window shows: "
                  f"{', '.join(result['heavy_not_imported_at_shown']) or 'none'}; imported: "
                  f"{', '.join(result['heavy_imported_at_shown']) or 'none'}", flush=True)
    write_readme()
    print(f"all done in {time.perf_counter() - run_started:.0f} s; table in bench/README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
