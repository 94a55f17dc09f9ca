"""384 -> the dimension a Titan V2 request asks for (256, 512 or 1024), deterministically.

Into a larger space (512, 1024) the map is an isometry: y = Q x with Q's 384 columns
orthonormal, so lengths, dot products and cosine distances are kept exactly (to float32
rounding). Into 256 dimensions it is an orthogonal projection onto a fixed 256-dimensional
subspace followed by renormalization: lossy, a random-projection (Johnson-Lindenstrauss)
approximation of cosine whose distortion docs/embeddings.md reports. Q comes from a seeded QR
decomposition, so every process, test and run maps the same text to the same vector.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from .minilm import NATIVE_DIMENSION

SEED = 20261207
TITAN_V2_DIMENSIONS = (256, 512, 1024)

Array = npt.NDArray[np.float32]


@functools.cache
def basis(dimension: int) -> Array:
    """(dimension, 384) for dimension >= 384: orthonormal columns; (256, 384) below: orthonormal
    rows (a projection). The same seed for every dimension, so the maps are fixed."""
    rng = np.random.default_rng(SEED + dimension)
    big = max(dimension, NATIVE_DIMENSION)
    small = min(dimension, NATIVE_DIMENSION)
    gaussian = rng.standard_normal((big, small))
    q, r = np.linalg.qr(gaussian)  # q: (big, small), orthonormal columns
    q = q * np.sign(np.diag(r))[None, :]  # a unique Q (QR's column signs are not)
    mapped = q if dimension >= NATIVE_DIMENSION else q.T
    out: Array = np.ascontiguousarray(mapped, dtype=np.float32)
    return out


def to_dimension(vectors: Array, dimension: int) -> Array:
    """Rows of 384 mapped to `dimension`; a projection (256) is renormalized when the input
    rows were unit vectors, so `normalize` keeps meaning what the request asked."""
    if dimension == NATIVE_DIMENSION:
        return vectors
    mapped: Array = (vectors @ basis(dimension).T).astype(np.float32)
    return mapped


def isometric(dimension: int) -> bool:
    return dimension >= NATIVE_DIMENSION
