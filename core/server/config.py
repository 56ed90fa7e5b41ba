"""What `glassbox serve` and the Server panel start a server with, and the checks on it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from core.errors import GlassboxError

DEFAULT_PORT = 8080
MIB = 1024 * 1024


class ServerConfigError(GlassboxError):
    """The server cannot start as asked (an open address without a key, a bad port)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0: any free port (tests)
    model: str | None = None  # a library name or a GGUF path; None: the library's default
    api_key: str | None = None
    parallel: int = 1  # engine processes, each with its own copy of the model
    cors_origins: tuple[str, ...] = ()  # browsers may call from these origins; none: CORS off
    log_path: Path | None = None  # append each request to this JSON-lines file; None: memory only
    max_body_bytes: int = 4 * MIB
    max_tokens: int = 4096  # the most a request may ask for
    max_queue: int = 64  # requests waiting for an engine beyond this are answered 429
    n_ctx: int | None = None  # None: the load settings saved in the app
    loras: tuple[tuple[str, float], ...] = ()  # GGUF LoRA adapters (path, scale) on every engine
    control_vector: tuple[str, float] | None = None  # llama.cpp control vector (path, strength)

    def check(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ServerConfigError(f"Port {self.port} is not a port: use 1 to 65535.")
        if self.parallel < 1 or self.parallel > 16:
            raise ServerConfigError("--parallel takes 1 to 16 engine processes.")
        if not is_loopback(self.host) and not self.api_key:
            raise ServerConfigError(
                f"Serving on {self.host} lets other computers reach your models: set an API "
                "key (--api-key) first, or serve on 127.0.0.1.")

    @property
    def display_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host
