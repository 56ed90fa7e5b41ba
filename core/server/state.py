"""What every endpoint reaches: the configuration, the engines, the request log, and the
embedding model (loaded on the first embeddings or collection request)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.server.config import ServerConfig
from core.server.pool import EnginePool
from core.server.request_log import RequestLog

if TYPE_CHECKING:
    import numpy as np

    from core.rag.embed import Embedder


@dataclass
class ServerState:
    config: ServerConfig
    pool: EnginePool
    log: RequestLog
    started: float = field(default_factory=time.time)
    _embedder: Embedder | None = None
    _embed_lock: threading.Lock = field(default_factory=threading.Lock)

    def _encode(self, texts: list[str]) -> np.ndarray:
        with self._embed_lock:  # one model, one batch at a time
            if self._embedder is None:
                from core.rag.embed import Embedder

                self._embedder = Embedder()
            return self._embedder.encode(texts)

    async def embed(self, texts: list[str]) -> np.ndarray:
        """MiniLM sentence embeddings (384 floats each, unit length), off the event loop."""
        return await asyncio.to_thread(self._encode, texts)
