"""The summary table in bench/README.md, rebuilt from bench/results/*.json after each run.

Only the part between the two markers is rewritten; the prose around it is kept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

BENCH = Path(__file__).parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
START = "<!-- bench-table:start (written by `make bench`: edit bench/report.py, not this) -->"
END = "<!-- bench-table:end -->"
# Ratios of rates and accuracies are better above 1; ratios of times, below 1.
_RATE_UNITS = ("tokens/s", "chunks/s")


def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(result.get("figures", [result]))


def higher_is_better(row: dict[str, Any]) -> bool:
    if "higher_is_better" in row:
        return bool(row["higher_is_better"])
    return row.get("unit") in _RATE_UNITS or "unit" not in row


def _number(value: float, unit: str) -> str:
    if unit == "ms" and value >= 1000:
        return f"{value:,.0f} ms"
    if unit == "MB" and value >= 1000:
        return f"{value:,.0f} MB"
    text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text} {unit}".strip()


def target_of(row: dict[str, Any]) -> str:
    """The target in words and whether this run met it, or a dash."""
    if "target_ms" in row:
        value = row.get(f"glassbox_{row['target_is']}") if "target_is" in row else None
        value = row["glassbox"] if value is None else value
        met = value < row["target_ms"]
        what = f"{row['target_is']} " if "target_is" in row else ""
        return f"{what}< {_number(row['target_ms'], 'ms')}: {'met' if met else 'MISSED'}"
    if "target_mb" in row:
        met = row["glassbox"] < row["target_mb"]
        return f"< {_number(row['target_mb'], 'MB')}: {'met' if met else 'MISSED'}"
    if "target_min" in row:  # a rate that must reach a floor (retrieval quality)
        met = row["glassbox"] >= row["target_min"]
        return f">= {row['target_min']:g}: {'met' if met else 'MISSED'}"
    if "target_ratio" in row:
        if higher_is_better(row):
            met, sign = row["ratio"] >= row["target_ratio"], ">="
        else:
            met, sign = row["ratio"] <= row["target_ratio"], "<="
        return f"ratio {sign} {row['target_ratio']:g}: {'met' if met else 'MISSED'}"
    return "—"


def _spread_note(row: dict[str, Any]) -> str:
    noisy = [side for side in ("glassbox", "baseline")
             if row.get(f"{side}_spread", {}).get("noisy")]
    return f" (noisy: {', '.join(noisy)})" if noisy else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| benchmark | figure | Glassbox | baseline | ratio | target | baseline is | machine |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in results.items():
        for row in rows_of(result):
            unit = row.get("unit", "")
            lines.append("| " + " | ".join(_cell(part) for part in (
                name,
                row["name"] + _spread_note(row),
                _number(row["glassbox"], unit),
                _number(row["baseline"], unit),
                f"{row['ratio']:.3g}",
                target_of(row),
                row.get("baseline_is", ""),
                result.get("machine", ""),
            )) + " |")
    return "\n".join(lines)


def load_results() -> dict[str, dict[str, Any]]:
    """Every saved result that has figures (stress runs and the like have none)."""
    results = {}
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        if "figures" in result or "glassbox" in result:
            results[path.stem] = result
    return results


def write_readme(results: dict[str, dict[str, Any]] | None = None) -> None:
    text = README.read_text()
    block = f"{START}\n{table(results if results is not None else load_results())}\n{END}"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        heading = text.index("\n## ") if "\n## " in text else len(text)
        text = text[:heading] + "\n\n" + block + "\n" + text[heading:]
    README.write_text(text)


if __name__ == "__main__":
    write_readme()
