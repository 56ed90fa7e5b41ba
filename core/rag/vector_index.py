"""In-memory dense search over one collection: exact when small, binary codes + rescoring at scale.

Exact float32 search costs a full pass over the matrix per query: about 160 ms at 1M x 384 on a
2-core machine, and it needs 1.5 GB of RAM. Above `exact_below` rows we keep instead:

- one bit per dimension (sign of the vector minus the collection's mean, so bits split evenly),
  stored column-major as six uint64 words per row: a Hamming scan over 1M rows is six
  xor + popcount passes of 8 MB each (about 15 ms);
- the vectors in float16 (half the memory; cosine error around 1e-4), from which the rows that
  come closest (Hamming first, then the float query against their bits) are rescored.

Recall@10 against exact float32 search is measured in tests/rag/test_rag_search_scale.py and
bench/rag_search.py.
"""

from __future__ import annotations

import numpy as np

EXACT_BELOW = 20_000  # below this, float32 brute force is already a few milliseconds
# Rows rescored with floats: a floor, and a share of the collection for very large ones. Chosen
# by measuring recall@10 at 20k, 100k and 1M rows (bench/rag_search.py).
MIN_RESCORE = 3_000
RESCORE_SHARE = 0.014
POOL_FACTOR = 8  # Hamming keeps this many times the rows rescored, for the finer estimate


class VectorIndex:
    """Dense top-k over a fixed set of unit vectors. Build with `builder()`, then `search()`."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, mean: np.ndarray | None = None,
                 exact_below: int = EXACT_BELOW) -> None:
        """`vectors`: (n, d) unit rows, float32 (exact search) or float16 (binary + rescore,
        then `mean` is the centre used for the bits)."""
        self.ids = ids
        self.approximate = len(ids) >= exact_below
        if self.approximate:
            self.half = np.ascontiguousarray(vectors, dtype=np.float16)
            self.mean = (mean if mean is not None
                         else self.half.mean(axis=0, dtype=np.float32)).astype(np.float32)
            self.codes = _column_codes(self.half, self.mean)
            self.exact: np.ndarray | None = None
        else:
            self.exact = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        """Memory held by the index, for reports."""
        if self.exact is not None:
            return int(self.ids.nbytes + self.exact.nbytes)
        return int(self.ids.nbytes + self.half.nbytes + self.codes.nbytes)

    def rescore_count(self) -> int:
        return max(MIN_RESCORE, int(len(self.ids) * RESCORE_SHARE))

    def search(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(chunk ids, cosine scores) of the `k` best rows, best first."""
        n = len(self.ids)
        if n == 0 or k < 1:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32)
        if self.exact is not None:
            rows = np.arange(n)
            scores = _dot(self.exact, query)
        else:
            rows = self._candidates(query, max(self.rescore_count(), k))
            scores = _dot(self.half[rows].astype(np.float32), query)
        if len(scores) > k:
            best = np.argpartition(-scores, k - 1)[:k]
        else:
            best = np.arange(len(scores))
        best = best[np.argsort(-scores[best], kind="stable")]
        return self.ids[rows[best]], scores[best]

    def _candidates(self, query: np.ndarray, count: int) -> np.ndarray:
        """Row numbers of about `count` rows likely nearest to `query`, in two cheap steps:
        Hamming distance between sign bits over every row keeps POOL_FACTOR * count rows, then
        the float query against those rows' bits (an asymmetric estimate, much closer to the
        true score for queries with no clear near neighbour) keeps `count`."""
        n = len(self.ids)
        if count >= n:
            return np.arange(n)
        pool = self._hamming_nearest(query, count * POOL_FACTOR)
        if len(pool) <= count:
            return pool
        estimate = _bit_scores(query, self.codes[:, pool])
        return pool[np.argpartition(-estimate, count - 1)[:count]]

    def _hamming_nearest(self, query: np.ndarray, count: int) -> np.ndarray:
        n = len(self.ids)
        if count >= n:
            return np.arange(n)
        # Rows are coded centred, the query is not: q . x and q . (x - mean) differ by the same
        # constant for every row, so the ranking to imitate is the one against x - mean.
        words = _pack(query)
        distance = np.zeros(n, dtype=np.uint16)
        scratch = np.empty(n, dtype=np.uint64)
        counts = np.empty(n, dtype=np.uint8)
        for column, word in zip(self.codes, words, strict=True):
            np.bitwise_xor(column, word, out=scratch)
            _popcount(scratch, counts)
            distance += counts
        # A histogram of distances finds the cut-off in one pass; argpartition would take ~3x
        # as long. Ties at the cut-off are all kept, so a few more than `count` come back.
        histogram = np.bincount(distance, minlength=self.codes.shape[0] * 64 + 1)
        cutoff = int(np.searchsorted(np.cumsum(histogram), count))
        return np.flatnonzero(distance <= cutoff)


def _bit_scores(query: np.ndarray, words: np.ndarray) -> np.ndarray:
    """query . sign-bits of each row (bits as 0/1), from (d / 64, m) uint64 words: per byte of
    the code a 256-entry table of the query's partial sums, so one lookup per byte and row,
    a byte position at a time (a single 2-D fancy index is 4x slower)."""
    nwords, rows = words.shape
    tables = _BYTE_PATTERNS @ query.reshape(nwords * 8, 8).T  # (256, bytes): sums by value
    # np.packbits order: byte j of a row holds dims 8j..8j+7, MSB first; on this little-endian
    # layout byte b of word w is code byte 8w + b.
    codes = np.ascontiguousarray(words).view(np.uint8).reshape(nwords, rows, 8)
    total = np.zeros(rows, dtype=np.float32)
    for w in range(nwords):
        for b in range(8):
            total += np.take(tables[:, 8 * w + b], codes[w, :, b])
    return total


_BYTE_PATTERNS = ((np.arange(256)[:, None] >> np.arange(7, -1, -1)) & 1).astype(np.float32)


def _dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """matrix @ vector without BLAS: OpenBLAS's threads spin against each other when the two
    cores are busy (a 2,000-row product took 16 ms instead of 0.5 ms under load here), and a
    product this small gains nothing from threads."""
    return np.einsum("ij,j->i", matrix, vector)


def _popcount(words: np.ndarray, out: np.ndarray) -> None:
    """Set bits of each uint64 into `out` (uint8)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0: one SIMD pass
        np.bitwise_count(words, out=out)
        return
    out[:] = _BYTE_BITS[words.view(np.uint8)].reshape(-1, 8).sum(axis=1, dtype=np.uint8)


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _pack(rows: np.ndarray) -> np.ndarray:
    """Sign bits of `rows` (n, d) or (d,) as uint64 words, d / 64 per row."""
    bits = np.packbits(np.asarray(rows) > 0, axis=-1)
    return bits.view(np.uint64)


def _column_codes(half: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(d / 64, n) uint64: word j of every row together, so each scan pass is contiguous."""
    n, d = half.shape
    if d % 64:
        raise ValueError("the vector length must be a multiple of 64")
    codes = np.empty((d // 64, n), dtype=np.uint64)
    step = 65_536  # a block at a time: the float32 copy of the whole would double the memory
    for start in range(0, n, step):
        block = half[start:start + step].astype(np.float32) - mean
        codes[:, start:start + step] = _pack(block).T
    return codes


class VectorIndexBuilder:
    """Collects (ids, float32 rows) blocks as they are read and builds the index at the end,
    keeping float16 copies only, so a 1M-row collection never sits in memory as float32."""

    def __init__(self, dimension: int, expected: int = 0,
                 exact_below: int = EXACT_BELOW) -> None:
        self.exact_below = exact_below
        self._ids: list[np.ndarray] = []
        self._exact: list[np.ndarray] | None = []  # dropped once the rows reach exact_below
        self._half = np.empty((max(expected, 0), dimension), dtype=np.float16)
        self._sum = np.zeros(dimension, dtype=np.float64)
        self._rows = 0

    def add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        end = self._rows + len(rows)
        if end > len(self._half):  # more than expected (written meanwhile): grow by an eighth
            grown = np.empty((max(end, len(self._half) * 9 // 8), self._half.shape[1]),
                             dtype=np.float16)
            grown[:self._rows] = self._half[:self._rows]
            self._half = grown
        self._half[self._rows:end] = rows
        self._sum += rows.sum(axis=0, dtype=np.float64)
        self._ids.append(np.asarray(ids, dtype=np.int64))
        if self._exact is not None:
            self._exact.append(np.asarray(rows, dtype=np.float32))
            if end >= self.exact_below:
                self._exact = None
        self._rows = end

    def build(self) -> VectorIndex:
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, dtype=np.int64)
        if self._exact is not None:
            dimension = self._half.shape[1]
            rows = (np.concatenate(self._exact) if self._exact
                    else np.zeros((0, dimension), dtype=np.float32))
            return VectorIndex(ids, rows, exact_below=self.exact_below)
        mean = (self._sum / max(self._rows, 1)).astype(np.float32)
        half = self._half if self._rows == len(self._half) else self._half[:self._rows].copy()
        return VectorIndex(ids, half, mean, self.exact_below)
