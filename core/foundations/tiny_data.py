"""The text a tiny model learns from: tokenized with the chat model's own tokenizer, mapped to
the rows the tiny model keeps (see core.foundations.tiny_model), split into train and held-out.

The held-out part is the END of the text (a contiguous tail), so no held-out window overlaps a
training window and the held-out loss measures what the model learned, not what it memorised.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import FoundationsError

if TYPE_CHECKING:
    import numpy as np

SAMPLES_FOLDER = Path(__file__).resolve().parents[2] / "resources" / "foundations"


def sample_texts() -> list[Path]:
    """The sample texts shipped for the foundations lab."""
    return sorted(SAMPLES_FOLDER.glob("*.txt"))


@dataclass(frozen=True)
class Vocabulary:
    """The chat model's tokenizer, reduced to the tokens a text uses."""

    tokenizer_path: str  # the GGUF whose tokenizer this is
    full_size: int  # tokens in the chat model's vocabulary
    seen: tuple[int, ...]  # full-vocabulary ids, in row order; row len(seen) is "unseen"
    pieces: tuple[str, ...]  # the text of each seen token

    @property
    def rows(self) -> int:
        return len(self.seen) + 1

    @property
    def unseen_count(self) -> int:
        return self.full_size - len(self.seen)


@dataclass(frozen=True)
class TextData:
    vocab: Vocabulary
    train: np.ndarray  # row ids (int64)
    held_out: np.ndarray
    unigram_entropy: float  # nats: the held-out loss of predicting tokens by their frequency


class Tokenizer:
    """The chat model's tokenizer, loaded without weights (llama.cpp vocab_only)."""

    def __init__(self, gguf_path: str | Path) -> None:
        from core.llama_log import open_llama

        self.path = str(gguf_path)
        try:
            self._llm: Any = open_llama(self.path, vocab_only=True)
        except Exception as exc:  # llama-cpp-python raises ValueError for a file it refuses
            raise FoundationsError(f"Cannot read the tokenizer of {gguf_path}: {exc}") from exc
        self.size = int(self._llm.n_vocab())

    def encode(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def decode(self, ids: list[int]) -> str:
        data: bytes = self._llm.detokenize(ids)
        return data.decode("utf-8", errors="replace")

    def piece(self, token: int) -> str:
        return self.decode([token])


def unigram_entropy(rows: np.ndarray) -> float:
    """Entropy (nats) of the tokens' own frequencies: the lowest loss any predictor that
    ignores context can reach on these tokens."""
    counts = Counter(int(t) for t in rows)
    n = sum(counts.values())
    return -sum(c / n * math.log(c / n) for c in counts.values())


def check_not_empty(text: str) -> None:
    """FoundationsError for a text with nothing but white space in it."""
    if not text.strip():
        raise FoundationsError("The text is empty: pick a file, a sample or a collection "
                               "with some words in it.")


def prepare(text: str, tokenizer: Tokenizer, context: int, held_out_fraction: float
            ) -> TextData:
    """Tokenize, map and split `text`; FoundationsError for an empty or too short text."""
    import numpy as np

    check_not_empty(text)
    ids = tokenizer.encode(text)
    held_n = max(int(len(ids) * held_out_fraction), context + 1)
    need = held_n + context + 1
    if len(ids) < need:
        raise FoundationsError(
            f"The text is {len(ids)} tokens long; training needs at least {need} (one batch "
            f"row of {context + 1} tokens to learn from and {held_n} held out to test on). "
            "Use a longer text or a shorter context.")
    seen = sorted(set(ids))
    row_of = {token: row for row, token in enumerate(seen)}
    rows = np.fromiter((row_of[t] for t in ids), dtype=np.int64, count=len(ids))
    vocab = Vocabulary(tokenizer.path, tokenizer.size, tuple(seen),
                       tuple(tokenizer.piece(t) for t in seen))
    train, held = rows[:-held_n], rows[-held_n:]
    return TextData(vocab, train, held, unigram_entropy(held))


def read_text_file(path: str | Path) -> str:
    """A text file's content (UTF-8, undecodable bytes replaced), or FoundationsError."""
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise FoundationsError(f"Cannot read {path}: {exc.strerror or exc}") from exc
