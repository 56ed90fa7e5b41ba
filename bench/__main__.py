"""`make bench`: run every benchmark, print ratios, save bench/results/*.json."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from bench import generation

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    for module in (generation,):
        result = module.run()
        result["machine"] = f"{platform.machine()}, {platform.processor() or 'cpu'}"
        name = module.__name__.rsplit(".", 1)[-1]
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"{result['name']}: glassbox {result['glassbox']} vs baseline "
              f"{result['baseline']} -> ratio {result['ratio']}")


if __name__ == "__main__":
    main()
