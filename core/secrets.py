"""API keys of remote engines: in the system keyring, never in the database, a log or an export.

Where no keyring service runs (a bare Linux session, CI: `keyring` then picks its `fail`
backend), a key goes to a file under the data folder that only the user can read (0600), and
the caller says so. A key can also stay in an environment variable the user names; then
Glassbox stores only the variable's name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import GlassboxError

SERVICE = "glassbox-remote-engine"
KeySource = Literal["none", "keyring", "file", "env"]


class SecretError(GlassboxError):
    """An API key could not be stored or read."""


@dataclass(frozen=True)
class KeyRef:
    """Where an engine's key is: the only part that is saved with the engine."""

    source: KeySource = "none"
    env: str | None = None  # the variable's name, for source "env"

    def describe(self) -> str:
        return {"none": "no API key", "keyring": "API key in the system keyring",
                "file": "API key in a file only you can read (no keyring service here)",
                "env": f"API key from ${self.env}"}[self.source]


def keyring_works() -> bool:
    """Whether a real keyring backend is there (not keyring's `fail` or null backends)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return False
    backend = keyring.get_keyring()
    return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 0) > 0


def _key_file(name: str) -> Path:
    from core.config import data_home

    return data_home() / "keys" / f"{name}.key"


def store_key(name: str, key: str) -> KeyRef:
    """Keep `key` for the engine `name`: in the keyring when one works, else in a 0600 file."""
    if keyring_works():
        import keyring

        try:
            keyring.set_password(SERVICE, name, key)
            return KeyRef("keyring")
        except Exception:  # a locked or refusing keyring: the file below still works
            pass
    path = _key_file(name)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created with 0600 from the start: never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(key)
    os.chmod(path, 0o600)  # an older file with wider rights keeps them through O_TRUNC
    return KeyRef("file")


def read_key(name: str, ref: KeyRef) -> str | None:
    """The engine's key, or None when it has none. Raises SecretError when it should have one
    and it is gone."""
    if ref.source == "none":
        return None
    if ref.source == "env":
        value = os.environ.get(ref.env or "")
        if not value:
            raise SecretError(f"The engine {name} takes its API key from ${ref.env}, which "
                              "is not set in this environment.")
        return value
    if ref.source == "keyring":
        import keyring

        try:
            value = keyring.get_password(SERVICE, name)
        except Exception as exc:
            raise SecretError(f"The system keyring could not be read for {name}: {exc}") from exc
        if value is None:
            raise SecretError(f"The API key of {name} is no longer in the system keyring; "
                              "add the engine again with its key.")
        return value
    try:
        return _key_file(name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"The API key file of {name} cannot be read: {exc}") from exc


def delete_key(name: str, ref: KeyRef) -> None:
    """Forget the key of `name` wherever Glassbox kept it (an environment variable is the
    user's own and stays)."""
    if ref.source == "keyring":
        import keyring

        try:
            keyring.delete_password(SERVICE, name)
        except Exception:  # already gone
            pass
    elif ref.source == "file":
        _key_file(name).unlink(missing_ok=True)
