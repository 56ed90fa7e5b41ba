"""`make bench`: run every benchmark, print ratios, save bench/results/*.json."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from bench import capture, generation, introspection, rag_indexing, rag_quality, rag_search, startup

RESULTS = Path(__file__).parent / "results"


def _line(row: dict[str, Any]) -> str:
    unit = f" {row['unit']}" if "unit" in row else ""
    line = (f"{row['name']}: glassbox {row['glassbox']}{unit} vs baseline "
            f"{row['baseline']}{unit} -> ratio {row['ratio']}")
    if "target_met" in row:
        line += f" (target < {row['target_ms']:g} ms: {'met' if row['target_met'] else 'MISSED'})"
    noisy = [side for side in ("glassbox", "baseline")
             if row.get(f"{side}_spread", {}).get("noisy")]
    if noisy:
        line += f" [spread too large to trust: {', '.join(noisy)}]"
    return line


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    for module in (generation, introspection, capture, startup, rag_quality, rag_indexing,
                   rag_search):
        result = module.run()
        result["machine"] = f"{platform.machine()}, {platform.processor() or 'cpu'}"
        name = module.__name__.rsplit(".", 1)[-1]
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        for row in result.get("figures", [result]):
            print(_line(row), flush=True)
        if "heavy_not_imported_at_shown" in result:
            print(f"not imported when the window shows: "
                  f"{', '.join(result['heavy_not_imported_at_shown']) or 'none'}; imported: "
                  f"{', '.join(result['heavy_imported_at_shown']) or 'none'}", flush=True)


if __name__ == "__main__":
    main()
