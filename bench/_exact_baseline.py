"""The search baseline in a process of its own: exact float32 `matrix @ query` + top k in numpy.

`python -m bench._exact_baseline MATRIX.npy QUERIES.npy DEPTH` loads the matrix into memory,
runs every query once untimed (warm-up) and once timed, and prints JSON: milliseconds per query
and the row numbers of each query's top DEPTH, best first.

Why a process of its own (issue 17): in the benchmark process, torch's and OpenBLAS's thread
pools (both started by the embedding model) compete with numpy's BLAS threads on two cores, and
the same product measured there took about six times as long as in a clean process. Here only
numpy is imported, with its default threads, as anyone would run it.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def main(matrix_path: str, queries_path: str, depth: int) -> dict[str, list]:
    matrix = np.load(matrix_path)
    queries = np.load(queries_path)
    for query in queries[: min(10, len(queries))]:  # warm-up: page the matrix in, start threads
        matrix @ query
    times: list[float] = []
    tops: list[list[int]] = []
    for query in queries:
        started = time.perf_counter()
        scores = matrix @ query
        best = np.argpartition(-scores, depth)[:depth]
        best = best[np.argsort(-scores[best])]
        times.append((time.perf_counter() - started) * 1000)
        tops.append(best.tolist())
    return {"ms": times, "top": tops}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
