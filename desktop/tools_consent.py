"""Consent across threads: the agent asks in the engine's thread, the user answers in the GUI's.

`ask` is the agent's consent callback (blocking, as the agent expects): it emits `asked` (a
queued signal: the window shows a card) and waits on an event until `answer` is called from
the GUI thread. Stop, closing the window or leaving the chat `release_all()`: every waiting
question is answered "deny", and any later one too until `reset()` (the next reply), so a
cancelled agent never waits on a card nobody will see.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

if TYPE_CHECKING:
    from core.api import Decision, ToolCall, ToolSpec


@dataclass
class _Question:
    done: threading.Event = field(default_factory=threading.Event)
    decision: Decision = "deny"


class ConsentBroker(QObject):
    asked = Signal(int, object, object)  # request id, ToolCall, ToolSpec

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._questions: dict[int, _Question] = {}
        self._next = 0
        self._released = False

    # -- the agent's thread -----------------------------------------------------------------
    def ask(self, call: ToolCall, spec: ToolSpec) -> Decision:
        with self._lock:
            if self._released:
                return "deny"
            self._next += 1
            request = self._next
            question = self._questions[request] = _Question()
        self.asked.emit(request, call, spec)
        question.done.wait()
        with self._lock:
            self._questions.pop(request, None)
        return question.decision

    # -- the GUI thread ---------------------------------------------------------------------
    def answer(self, request: int, decision: Decision) -> None:
        with self._lock:
            question = self._questions.get(request)
        if question is not None and not question.done.is_set():
            question.decision = decision
            question.done.set()

    def release_all(self) -> None:
        """Deny every waiting question and every later one, until reset()."""
        with self._lock:
            self._released = True
            waiting = list(self._questions.values())
        for question in waiting:
            question.decision = "deny"
            question.done.set()

    def reset(self) -> None:
        """A new reply: questions wait for the user again."""
        with self._lock:
            self._released = False

    @property
    def released(self) -> bool:
        return self._released

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(not q.done.is_set() for q in self._questions.values())
