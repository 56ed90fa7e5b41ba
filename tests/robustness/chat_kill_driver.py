"""A real app-like process for the kill harness: streams replies with the bundled model.

Run as `python chat_kill_driver.py DB JOURNAL`. It loads SmolLM2 in the engine child, then
sends numbered messages one after another through ChatSession (the app's own path), writing
a line to JOURNAL after each thing it knows is committed. The harness SIGKILLs its whole
process group at a random moment and checks the database against the journal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _journal(handle: object, line: str) -> None:
    handle.write(line + "\n")  # type: ignore[attr-defined]
    handle.flush()  # type: ignore[attr-defined]
    os.fsync(handle.fileno())  # type: ignore[attr-defined]


def main(db: Path, journal: Path) -> None:
    from core.chat import ChatSession, ReplyStarted
    from core.engine.client import EngineClient
    from core.engine.types import DoneEvent, SamplingSettings
    from core.models.bundled import default_chat_model
    from core.store import ChatStore

    store = ChatStore(db)
    engine = EngineClient()
    engine.load(default_chat_model(), n_ctx=1024)
    # Commit the reply every few tokens, so kills land between partial commits too.
    session = ChatSession(store, engine, commit_interval_s=0.02)
    chat = store.create_chat("kill harness")
    sampling = SamplingSettings(max_tokens=48, temperature=0.8, seed=-1)
    with journal.open("a", encoding="utf-8") as out:
        _journal(out, f"ready {os.getpid()}")
        n = 0
        while True:
            n += 1
            text = f"msg-{os.getpid()}-{n}: tell me one fact about the number {n}"
            for event in session.send(chat.id, text, sampling):
                if isinstance(event, ReplyStarted):
                    # send() committed the user message before the reply row was made
                    _journal(out, f"user {event.user_message_id} {text}")
                    _journal(out, f"reply {event.reply_message_id}")
                    reply_id = event.reply_message_id
                elif isinstance(event, DoneEvent):
                    _journal(out, f"done {reply_id} {len(event.text)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
