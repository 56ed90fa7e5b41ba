"""The server's recent requests, kept so a builder can see what their program really sent:
the messages, the exact prompt after the chat template, and the reply.

Kept in memory (the newest `keep`); written to disk only when the user gives a log file.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RequestRecord:
    id: int
    started: float  # time.time()
    method: str
    path: str
    client: str
    status: int = 0
    duration_ms: float = 0.0
    model: str = ""
    stream: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # as the client sent them
    prompt: str = ""  # the exact text the model read (after the chat template)
    reply: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""
    error: str = ""

    @property
    def inspectable(self) -> bool:
        """A model ran: there is a prompt and a reply to open in Learn."""
        return bool(self.prompt)


class RequestLog:
    """Thread-safe: the server's event loop adds, the window's thread reads."""

    def __init__(self, keep: int = 200, path: Path | None = None) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=keep)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._path = path
        self._listeners: list[Callable[[RequestRecord], None]] = []

    def start(self, method: str, path: str, client: str) -> RequestRecord:
        return RequestRecord(next(self._ids), time.time(), method, path, client)

    def finish(self, record: RequestRecord, status: int, duration_ms: float) -> None:
        record.status, record.duration_ms = status, duration_ms
        with self._lock:
            self._records.append(record)
            listeners = list(self._listeners)
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with self._path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
        for listener in listeners:
            listener(record)

    def recent(self) -> list[RequestRecord]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._records))

    def get(self, record_id: int) -> RequestRecord | None:
        with self._lock:
            return next((r for r in self._records if r.id == record_id), None)

    def subscribe(self, listener: Callable[[RequestRecord], None]) -> None:
        """Called (on the server's thread) after each request ends."""
        with self._lock:
            self._listeners.append(listener)
