"""Eval sets: items read from JSONL or CSV, and the starter sets that ship with Glassbox.

An item is a prompt with what to check the reply against:
  {"id": "q1", "prompt": "...", "references": ["...", ...]   # or "reference": "..."
   "choices": ["...", ...], "answer": 0                      # multiple choice (index or text)
   "label": "positive"                                       # classification
   "schema": {...}                                           # JSON extraction
   "context": "...", "collection": "NAME", "gold": ["..."]}  # grounded; gold: passage text
                                                             #   snippets or file names
CSV has the same columns; several references are separated by " || " and choices by " | ",
and `schema` holds JSON. Items load lazily (`iter_items`), so a 10,000-item file starts at once.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import GlassboxError


class EvalSetError(GlassboxError):
    """An eval set that cannot be read, with where and why."""


@dataclass(frozen=True)
class EvalItem:
    id: str
    prompt: str
    references: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    answer: int | None = None  # the gold choice's index
    label: str | None = None
    schema: dict[str, Any] | None = None
    context: str | None = None
    collection: str | None = None
    gold: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "prompt": self.prompt}
        for key in ("references", "choices", "gold"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        for key in ("answer", "label", "schema", "context", "collection"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class EvalSet:
    name: str
    path: str
    items: tuple[EvalItem, ...]
    digest: str  # sha256 of the file, so a resumed run knows the set did not change
    labels: tuple[str, ...] = field(default=())  # every gold label, for parsing replies

    def __len__(self) -> int:
        return len(self.items)


def _strings(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise EvalSetError(f"{where}: {what} must be text or a list of texts.")


def item_from(raw: Any, where: str, fallback_id: str) -> EvalItem:
    """One item from its JSON (or CSV row) form; EvalSetError says what is wrong."""
    if not isinstance(raw, dict):
        raise EvalSetError(f"{where}: an item must be an object with a prompt.")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise EvalSetError(f"{where}: the item has no prompt.")
    references = _strings(raw.get("references"), where, "references") + _strings(
        raw.get("reference"), where, "reference")
    choices = _strings(raw.get("choices"), where, "choices")
    answer = raw.get("answer")
    if answer == "":  # an empty CSV cell
        answer = None
    if isinstance(answer, str) and answer.strip().lstrip("-").isdigit():
        answer = int(answer)
    if isinstance(answer, str):
        if answer not in choices:
            raise EvalSetError(f"{where}: the answer {answer!r} is not one of the choices.")
        answer = choices.index(answer)
    if answer is not None and not (isinstance(answer, int) and 0 <= answer < len(choices)):
        raise EvalSetError(f"{where}: answer must be a choice's index (0 to "
                           f"{len(choices) - 1}) or its text.")
    schema = raw.get("schema")
    if isinstance(schema, str) and schema.strip():
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise EvalSetError(f"{where}: the schema is not JSON ({exc}).") from exc
    if schema in ("", None):
        schema = None
    elif not isinstance(schema, dict):
        raise EvalSetError(f"{where}: schema must be a JSON Schema object.")
    text = {key: raw.get(key) or None for key in ("label", "context", "collection")}
    if any(v is not None and not isinstance(v, str) for v in text.values()):
        raise EvalSetError(f"{where}: label, context and collection must be text.")
    return EvalItem(str(raw.get("id") or fallback_id), prompt, references, choices, answer,
                    text["label"], schema, text["context"], text["collection"],
                    _strings(raw.get("gold"), where, "gold"))


def _csv_row(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k.strip(): v for k, v in row.items() if k}
    for key, sep in (("references", " || "), ("choices", " | "), ("gold", " || ")):
        if out.get(key):
            out[key] = [part.strip() for part in out[key].split(sep)]
    return out


def iter_items(path: str | Path) -> Iterator[EvalItem]:
    """The items of a .jsonl or .csv file, one at a time."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise EvalSetError(f"{path.name}: an eval set is a .jsonl or .csv file.")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            if suffix == ".csv":
                for number, row in enumerate(csv.DictReader(handle), start=2):
                    yield item_from(_csv_row(row), f"{path.name} line {number}", str(number - 1))
                return
            count = 0
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                count += 1
                try:
                    raw = json.loads(line)
                except ValueError as exc:
                    raise EvalSetError(f"{path.name} line {number}: not JSON ({exc}).") from exc
                yield item_from(raw, f"{path.name} line {number}", str(count))
    except OSError as exc:
        raise EvalSetError(f"Cannot read the eval set {path}: {exc}.") from exc
    except UnicodeDecodeError as exc:
        raise EvalSetError(f"{path.name} is not UTF-8 text: {exc}.") from exc


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_set(path: str | Path) -> EvalSet:
    """A whole set (a name from `starter_sets()` or a file path). Raises EvalSetError."""
    resolved = resolve_set(path)
    items = tuple(iter_items(resolved))
    if not items:
        raise EvalSetError(f"{resolved.name} holds no items.")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise EvalSetError(f"{resolved.name}: the id {item.id!r} appears twice; ids must "
                               "be unique so results can be matched across runs.")
        seen.add(item.id)
    labels = tuple(sorted({i.label for i in items if i.label is not None}))
    return EvalSet(resolved.stem, str(resolved), items, file_digest(resolved), labels)


def starter_folder() -> Path:
    return Path(__file__).resolve().parents[2] / "resources" / "evals"


def starter_sets() -> list[Path]:
    """The small sets written for Glassbox (resources/evals)."""
    return sorted(starter_folder().glob("*.jsonl"))


def resolve_set(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_file():
        return path
    for starter in starter_sets():
        if starter.stem == str(name_or_path):
            return starter
    names = ", ".join(p.stem for p in starter_sets())
    raise EvalSetError(f"No eval set {str(name_or_path)!r}: give a .jsonl or .csv file, or "
                       f"a starter set ({names}).")


def needs(items: Sequence[EvalItem]) -> dict[str, int]:
    """How many items carry each kind of gold answer (to pick default metrics)."""
    return {"references": sum(bool(i.references) for i in items),
            "choices": sum(i.answer is not None for i in items),
            "label": sum(i.label is not None for i in items),
            "schema": sum(i.schema is not None for i in items),
            "retrieval": sum(bool(i.collection and i.gold) for i in items)}
