"""Training examples from the places a learner already has text, and the held-out split.

An example is a conversation that ends with the reply the model should learn (`messages` then
`response`), or, for continued pretraining, plain text that is learned whole. Loaders keep what
they can use and report what they could not (a malformed JSONL line by its number), so one bad
line does not cost a whole file.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from core.engine.types import ChatMessage, Role
from core.errors import TrainingDataError

if TYPE_CHECKING:
    from core.prompts.presets import Preset
    from core.store.chats import ChatStore

MIN_EXAMPLES = 2  # one to train on and one held out to tell whether training helped
HELD_OUT_FRACTION = 0.1
DEFAULT_SPLIT_SEED = 1234
_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Example:
    """One thing to learn: `response` after the conversation `messages` (a chat example), or
    `text` learned whole (continued pretraining; `messages` empty, `response` empty)."""

    messages: tuple[ChatMessage, ...] = ()
    response: str = ""
    text: str = ""

    @property
    def is_text(self) -> bool:
        return not self.messages and not self.response

    def to_json(self) -> dict[str, Any]:
        if self.is_text:
            return {"text": self.text}
        return {"messages": [{"role": m.role, "content": m.content} for m in self.messages],
                "response": self.response}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Example:
        if "text" in value:
            return cls(text=str(value["text"]))
        return cls(tuple(ChatMessage(m["role"], m["content"]) for m in value["messages"]),
                   str(value["response"]))


@dataclass(frozen=True)
class Dataset:
    """Examples and what was skipped on the way in (`problems`: one line each, for a person)."""

    examples: tuple[Example, ...]
    source: str
    problems: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "examples": len(self.examples),
                "text_examples": sum(e.is_text for e in self.examples),
                "skipped": len(self.problems), "problems": list(self.problems[:20])}


@dataclass(frozen=True)
class Split:
    """The seeded split: `train` to learn from, `held_out` to measure on (never trained on)."""

    train: tuple[Example, ...]
    held_out: tuple[Example, ...]
    seed: int
    held_out_indices: tuple[int, ...] = field(default=())  # positions in the dataset

    def summary(self) -> dict[str, Any]:
        return {"train": len(self.train), "held_out": len(self.held_out), "seed": self.seed,
                "held_out_indices": list(self.held_out_indices)}


def _chat_example(value: Any, where: str) -> Example:
    """An example from one JSON object: {"prompt", "response"} (optional "system"), OpenAI's
    {"messages": [...]} whose last message is the assistant's reply, {"messages", "response"}
    (what write_jsonl writes) or {"text"} (continued pretraining)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a JSON object")
    if "messages" in value:
        raw = value["messages"]
        if not isinstance(raw, list) or not raw:
            raise ValueError(f"{where}: 'messages' must be a non-empty list")
        messages = []
        for item in raw:
            if not isinstance(item, dict) or item.get("role") not in _ROLES or \
                    not isinstance(item.get("content"), str):
                raise ValueError(f"{where}: each message needs a role (system, user, "
                                 "assistant) and text content")
            messages.append(ChatMessage(item["role"], item["content"]))
        if isinstance(value.get("response"), str):
            # Our own shape (write_jsonl): the conversation, then the reply on its own.
            if not value["response"].strip():
                raise ValueError(f"{where}: 'response' is empty")
            return Example(tuple(messages), value["response"])
        if messages[-1].role != "assistant" or len(messages) < 2:
            raise ValueError(f"{where}: the last message must be the assistant's reply, "
                             "after at least one other message")
        if not messages[-1].content.strip():
            raise ValueError(f"{where}: the assistant's reply is empty")
        return Example(tuple(messages[:-1]), messages[-1].content)
    if "text" in value and "prompt" not in value:
        if not isinstance(value["text"], str) or not value["text"].strip():
            raise ValueError(f"{where}: 'text' is empty")
        return Example(text=value["text"])
    prompt, response = value.get("prompt"), value.get("response")
    if not isinstance(prompt, str) or not isinstance(response, str):
        raise ValueError(f"{where}: needs text fields 'prompt' and 'response' (or 'messages')")
    if not prompt.strip() or not response.strip():
        raise ValueError(f"{where}: 'prompt' or 'response' is empty")
    system = value.get("system")
    head = (ChatMessage("system", system),) if isinstance(system, str) and system.strip() else ()
    return Example((*head, ChatMessage("user", prompt)), response)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: spreadsheets write a BOM
    except FileNotFoundError:
        raise TrainingDataError(f"Training data file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise TrainingDataError(f"{path.name} is not UTF-8 text ({exc.reason} at byte "
                                f"{exc.start}).") from None
    except OSError as exc:
        raise TrainingDataError(f"Cannot read {path}: {exc.strerror or exc}") from None


def load_jsonl(path: str | Path) -> Dataset:
    """Examples from a JSONL file; malformed lines are skipped and named by line number."""
    path = Path(path)
    examples: list[Example] = []
    problems: list[str] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(_chat_example(json.loads(line), f"line {number}"))
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON ({exc.msg})")
        except ValueError as exc:
            problems.append(str(exc))
    return Dataset(tuple(examples), str(path), tuple(problems))


def load_csv(path: str | Path) -> Dataset:
    """Examples from a CSV file with `prompt` and `response` columns (and optional `system`);
    rows with an empty cell are skipped and named by row number."""
    path = Path(path)
    rows = csv.DictReader(_read_text(path).splitlines())
    columns = {name.strip().lower(): name for name in rows.fieldnames or []}
    if "prompt" not in columns or "response" not in columns:
        raise TrainingDataError(f"{path.name} needs 'prompt' and 'response' columns; its header "
                                f"has {', '.join(columns) or 'nothing'}.")
    examples: list[Example] = []
    problems: list[str] = []
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        value = {key: row.get(original) or "" for key, original in columns.items()}
        try:
            examples.append(_chat_example(value, f"row {number}"))
        except ValueError as exc:
            problems.append(str(exc))
    return Dataset(tuple(examples), str(path), tuple(problems))


def load_file(path: str | Path) -> Dataset:
    """A JSONL (.jsonl/.json lines) or CSV file, by its extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return load_jsonl(path)
    if suffix in (".csv", ".tsv"):
        return load_csv(path)
    raise TrainingDataError(f"{path.name}: use a .jsonl file (one {{\"prompt\", \"response\"}} "
                            "or {\"messages\": [...]} object a line) or a .csv file with prompt "
                            "and response columns.")


def from_chats(store: ChatStore, chat_ids: Iterable[int]) -> Dataset:
    """One example per assistant reply in each chat's visible branch: the conversation up to
    it, then the reply. Replies that were interrupted or failed are not learned from."""
    examples: list[Example] = []
    problems: list[str] = []
    for chat_id in chat_ids:
        chat = store.get_chat(chat_id)
        head = [ChatMessage("system", chat.system_prompt)] if chat.system_prompt.strip() else []
        history: list[ChatMessage] = list(head)
        for message in store.messages(chat_id):
            if message.role == "assistant" and history and history[-1].role == "user":
                if message.status == "complete" and message.content.strip():
                    examples.append(Example(tuple(history), message.content))
                else:
                    problems.append(f"chat {chat_id}: reply {message.id} skipped "
                                    f"({message.status or 'empty'})")
            if message.role in _ROLES:
                history.append(ChatMessage(cast(Role, message.role), message.content))
    return Dataset(tuple(examples), f"chats {', '.join(map(str, chat_ids))}", tuple(problems))


def from_preset(preset: Preset, values: dict[str, str] | None = None) -> Dataset:
    """A preset's few-shot pairs, each after the preset's system prompt."""
    rendered = preset.render(values)
    system = tuple(m for m in rendered if m.role == "system")
    pairs = [m for m in rendered if m.role != "system"]
    examples = [Example((*system, user), reply.content)
                for user, reply in zip(pairs[::2], pairs[1::2], strict=False)
                if user.role == "user" and reply.role == "assistant"]
    return Dataset(tuple(examples), f"preset {preset.name}")


def from_collection(collection: str, db_path: Path | None = None) -> Dataset:
    """A document collection's indexed chunks as plain text, for continued pretraining (the
    model learns the documents' wording, not to answer about them)."""
    from core.config import database_path
    from core.rag.index_store import IndexStore

    with IndexStore(db_path or database_path()) as store:
        collection_id = store.collection_id(collection)
        if collection_id is None:
            raise TrainingDataError(f"No document collection is named {collection!r}.")
        rows = store.conn.execute(
            "SELECT c.text FROM rag_chunks c JOIN rag_documents d ON d.id = c.document_id "
            "WHERE d.collection_id = ? ORDER BY d.id, c.ordinal", (collection_id,)).fetchall()
    texts = tuple(Example(text=str(r[0])) for r in rows if str(r[0]).strip())
    return Dataset(texts, f"collection {collection}")


def check_usable(dataset: Dataset) -> None:
    """Raise TrainingDataError when there is too little to train on and hold out."""
    count = len(dataset.examples)
    if count >= MIN_EXAMPLES:
        return
    skipped = f" ({len(dataset.problems)} skipped: {dataset.problems[0]})" \
        if dataset.problems else ""
    what = "no usable examples" if count == 0 else "only 1 example"
    raise TrainingDataError(f"{dataset.source} has {what}{skipped}. Fine-tuning needs at least "
                            f"{MIN_EXAMPLES}: some to train on and one held out to measure.")


def split(dataset: Dataset, fraction: float = HELD_OUT_FRACTION,
          seed: int = DEFAULT_SPLIT_SEED) -> Split:
    """Hold out `fraction` of the examples (at least one, and never all), chosen by `seed`:
    the same data and seed always hold out the same examples."""
    check_usable(dataset)
    count = len(dataset.examples)
    n_held = min(count - 1, max(1, round(count * fraction)))
    held = sorted(random.Random(seed).sample(range(count), n_held))
    chosen = set(held)
    return Split(tuple(e for i, e in enumerate(dataset.examples) if i not in chosen),
                 tuple(dataset.examples[i] for i in held), seed, tuple(held))


def write_jsonl(examples: Sequence[Example], path: Path) -> None:
    """The examples as JSONL in our own shape (what the training child reads)."""
    path.write_text("".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n"
                            for e in examples), encoding="utf-8")


def read_jsonl(path: Path) -> list[Example]:
    return [Example.from_json(json.loads(line))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
