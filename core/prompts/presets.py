"""Presets: a system prompt (a persona or a style) and few-shot examples, with {variables}.

A preset is plain data. `render` fills its variables and returns the messages a conversation
starts with; the chat, the comparison runner and the CLI all use that same rendering.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.engine.types import ChatMessage
from core.errors import PromptError

KINDS = ("persona", "few-shot", "style")
# {topic} is a variable; JSON in examples ({"name": ...}) never matches, and {{ }} escape.
_VARIABLE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


class PresetError(PromptError):
    """A preset is malformed, or its variables were not all filled in."""


@dataclass(frozen=True)
class Example:
    """One few-shot pair: what the user says and the answer the model should imitate."""

    user: str
    assistant: str


@dataclass(frozen=True)
class Preset:
    name: str
    kind: str = "persona"
    description: str = ""
    system_prompt: str = ""
    examples: tuple[Example, ...] = ()
    # Values a variable gets when the user leaves it empty (e.g. {"language": "English"}).
    defaults: dict[str, str] = field(default_factory=dict)

    def variables(self) -> list[str]:
        """The variable names used, in order of first appearance."""
        texts = [self.system_prompt] + [t for e in self.examples for t in (e.user, e.assistant)]
        names: dict[str, None] = {}
        for text in texts:
            for match in _VARIABLE.finditer(text):
                if match.group(1):
                    names.setdefault(match.group(1))
        return list(names)

    def render(self, values: Mapping[str, str] | None = None) -> list[ChatMessage]:
        """The system message (if any) and the examples as user/assistant turns, with every
        variable filled from `values` or the preset's defaults. Raises PresetError naming the
        variables left empty."""
        filled = {**self.defaults, **{k: v for k, v in (values or {}).items() if v.strip()}}
        missing = [n for n in self.variables() if not filled.get(n, "").strip()]
        if missing:
            raise PresetError(f"The preset “{self.name}” needs a value for "
                              + ", ".join("{" + n + "}" for n in missing) + ".")
        messages = []
        if self.system_prompt.strip():
            messages.append(ChatMessage("system", fill(self.system_prompt, filled)))
        for example in self.examples:
            messages.append(ChatMessage("user", fill(example.user, filled)))
            messages.append(ChatMessage("assistant", fill(example.assistant, filled)))
        return messages

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "system_prompt": self.system_prompt,
                "examples": [{"user": e.user, "assistant": e.assistant} for e in self.examples],
                "defaults": dict(self.defaults)}

    @classmethod
    def from_json(cls, value: Any) -> Preset:
        """A preset from its JSON form; PresetError says what is wrong with a bad one."""
        if not isinstance(value, dict):
            raise PresetError("A preset must be a JSON object with at least a name.")
        name = value.get("name")
        if not isinstance(name, str) or not name.strip():
            raise PresetError("A preset needs a non-empty \"name\".")
        kind = value.get("kind", "persona")
        if kind not in KINDS:
            raise PresetError(f"Preset “{name}”: kind {kind!r} is not one of {', '.join(KINDS)}.")
        texts = {k: value.get(k, "") for k in ("description", "system_prompt")}
        if not all(isinstance(t, str) for t in texts.values()):
            raise PresetError(f"Preset “{name}”: description and system_prompt must be text.")
        return cls(name.strip(), kind, texts["description"], texts["system_prompt"],
                   _examples(name, value.get("examples", [])),
                   _defaults(name, value.get("defaults", {})))


def _examples(name: str, raw: Any) -> tuple[Example, ...]:
    if not isinstance(raw, list) or not all(
            isinstance(e, dict) and isinstance(e.get("user"), str)
            and isinstance(e.get("assistant"), str) for e in raw):
        raise PresetError(f"Preset “{name}”: examples must be a list of "
                          "{\"user\": text, \"assistant\": text} objects.")
    return tuple(Example(e["user"], e["assistant"]) for e in raw)


def _defaults(name: str, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise PresetError(f"Preset “{name}”: defaults must map variable names to text.")
    return {str(k): v for k, v in raw.items()}


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with {name} replaced by its value; {{ and }} become single braces."""
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return values.get(match.group(1), token)

    return _VARIABLE.sub(replace, text)


def starter_file() -> Path:
    """The starter presets shipped with this installation."""
    # core/prompts/presets.py -> the folder holding core/ and resources/ (also in a bundle).
    return Path(__file__).resolve().parents[2] / "resources" / "presets" / "starter.json"


def load_presets(path: Path) -> list[Preset]:
    """Presets from a JSON file holding a list of them (the starter set's format)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PresetError(f"Cannot read presets from {path}: {exc}") from exc
    if not isinstance(raw, list):
        raise PresetError(f"{path} must hold a JSON list of presets.")
    return [Preset.from_json(item) for item in raw]


def parse_values(text: str) -> dict[str, str]:
    """Variable values typed as "topic=attention; language=Go" (also one per line)."""
    values: dict[str, str] = {}
    for part in re.split(r"[;\n]", text):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise PresetError(f"Write variables as name=value, separated by “;” (got "
                              f"“{part.strip()}”).")
        values[name.strip()] = value.strip()
    return values
