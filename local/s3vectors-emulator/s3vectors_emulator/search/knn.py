"""Exact k-nearest-neighbour search over a contiguous float32 matrix (brute force, numpy).

A first pass ranks every row with one float32 matrix-vector product; the k winners are then
re-scored in float64 so the returned distances are exact for the stored float32 vectors.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Rows = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]


def exact_distances(rows: F32, query: F64, metric: str) -> F64:
    """Distances between each row and the query, computed in float64."""
    block = rows.astype(np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(block, axis=1) * float(np.linalg.norm(query))
        # Rounding can make 1 - cos(v, v) a tiny negative; AWS never answers a negative distance.
        return np.maximum(1.0 - (block @ query) / norms, 0.0)  # type: ignore[no-any-return]
    diff = block - query
    return np.sqrt(np.einsum("ij,ij->i", diff, diff))  # type: ignore[no-any-return]


def nearest(
    matrix: F32,
    aux: F32,
    query: F32,
    metric: str,
    k: int,
    mask: Mask | None = None,
) -> tuple[Rows, F64]:
    """Rows of the k nearest vectors by ascending distance, with their distances.

    `matrix` holds only live rows; `aux` is the per-row inverse L2 norm (cosine) or squared
    L2 norm (euclidean) kept up to date by the index on every write.
    """
    count = matrix.shape[0]
    if count == 0 or k <= 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
    dots = matrix @ query
    if metric == "cosine":
        approx = 1.0 - dots * aux * np.float32(1.0 / float(np.linalg.norm(query)))
    else:
        approx = aux - 2.0 * dots + np.float32(float(query @ query))
    if mask is not None:
        approx = np.where(mask, approx, np.inf)
        k = min(k, int(mask.sum()))
        if k == 0:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64)
    k = min(k, count)
    if k < count:
        candidates = np.argpartition(approx, k - 1)[:k]
    else:
        candidates = np.arange(count)
        if mask is not None:
            candidates = candidates[mask]
    distances = exact_distances(matrix[candidates], query.astype(np.float64), metric)
    order = np.lexsort((candidates, distances))
    return candidates[order].astype(np.intp), distances[order]
