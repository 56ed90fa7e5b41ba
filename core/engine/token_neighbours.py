"""The chat model's own token embeddings: which tokens sit closest to a word's tokens.

The vectors are the rows of the GGUF's `token_embd.weight`, dequantized from the file (the
same numbers llama.cpp looks up for each input token), compared by cosine similarity. A word
of several tokens is represented by the mean of its tokens' vectors. The tokenizer is the
model's own, loaded without weights (`vocab_only`), so the pieces are exactly the model's.

numpy, gguf and llama_cpp are imported on use: workers call this, never the GUI start path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import GlassboxError, ModelLoadError, PromptError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_NEIGHBOURS = 20
MAX_NEIGHBOURS = 200


@dataclass(frozen=True)
class Neighbour:
    id: int
    piece: str
    similarity: float  # cosine with the word's vector, -1..1


@dataclass(frozen=True)
class TokenNeighboursView:
    model: str  # file name of the model the embeddings come from
    word: str  # as it was looked up (with its leading space, if one was added)
    tokens: list[tuple[int, str]]  # the word's own tokens: (id, piece)
    neighbours: list[Neighbour]  # most similar first; the word's own tokens left out
    coords: np.ndarray  # float [1 + len(neighbours)][2]: the word first, PCA of the set
    explained: tuple[float, float]  # share of the set's variance along each map axis
    n_vocab: int
    n_embd: int


class TokenEmbeddings:
    """The token embedding matrix of one GGUF model, normalised for cosine look-ups.

    Loading dequantizes the whole matrix (49k x 576 floats, 0.4 s for SmolLM2-135M); keep
    one instance per model and ask it many words.
    """

    def __init__(self, path: str | Path) -> None:
        import numpy as np

        from core.gguf.tensors import dequantize_tensor, read_tensor_table
        from core.llama_log import open_llama

        self.path = str(path)
        table = read_tensor_table(path)
        if "token_embd.weight" not in table.tensors:
            raise ModelLoadError(f"{Path(path).name} has no token embedding matrix "
                                 "(token_embd.weight); it cannot be shown.")
        matrix = dequantize_tensor(table, "token_embd.weight")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self.unit = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
        try:
            self._vocab: Any = open_llama(self.path, vocab_only=True)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"llama.cpp could not read the tokenizer of "
                                 f"{Path(path).name}: {exc}") from exc
        n_vocab = int(self._vocab.n_vocab())
        if n_vocab != len(self.unit):
            raise ModelLoadError(f"{Path(path).name} has {n_vocab:,} tokens but "
                                 f"{len(self.unit):,} embedding rows; the file is inconsistent.")

    def close(self) -> None:
        self._vocab.close()

    def piece(self, token: int) -> str:
        raw = bytes(self._vocab.detokenize([token], special=True))
        return raw.decode("utf-8", errors="replace")

    def tokenize(self, word: str, leading_space: bool = True) -> tuple[str, list[int]]:
        """The word's token ids, looked up as it appears inside a sentence by default.

        Most word tokens of BPE vocabularies carry their leading space (" king"); where the
        space would be a token of its own (" 7" is " " + "7"), the bare word is used.
        """
        bare = word.strip()
        if not bare:
            raise PromptError("Type a word (or a few) to look up its neighbours.")
        if len(bare) > 200:
            raise PromptError("That is a long text: token neighbours are for a word or two.")
        if leading_space:
            spaced = self._ids(" " + bare)
            if not (len(spaced) > 1 and self.piece(spaced[0]) == " "):
                return " " + bare, spaced
        return bare, self._ids(bare)

    def _ids(self, text: str) -> list[int]:
        return list(self._vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def neighbours(self, word: str, k: int = DEFAULT_NEIGHBOURS,
                   leading_space: bool = True) -> TokenNeighboursView:
        """The `k` tokens whose embeddings are most cosine-similar to the word's."""
        import numpy as np

        from core.pca import pca_2d

        if not 1 <= k <= MAX_NEIGHBOURS:
            raise GlassboxError(f"Ask for 1 to {MAX_NEIGHBOURS} neighbours, not {k}.")
        looked_up, ids = self.tokenize(word, leading_space)
        query = self.unit[ids].mean(axis=0)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        scores = self.unit @ query
        scores[ids] = -np.inf  # the word itself is no neighbour of itself
        best = np.argpartition(-scores, k)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        neighbours = [Neighbour(int(t), self.piece(int(t)), float(scores[t])) for t in best]
        coords, explained = pca_2d(np.vstack([query[None, :], self.unit[best]]))
        return TokenNeighboursView(
            model=Path(self.path).name, word=looked_up,
            tokens=[(t, self.piece(t)) for t in ids], neighbours=neighbours, coords=coords,
            explained=explained, n_vocab=len(self.unit), n_embd=int(self.unit.shape[1]))
