"""Reciprocal Rank Fusion (Cormack, Clarke and Büttcher, SIGIR 2009)."""

from __future__ import annotations

import math
from collections.abc import Sequence

# AWS does not publish its constant; 60 is the paper's and the usual default.
RRF_K = 60


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse rankings (each best first) into (key, sum of 1/(k + rank)) pairs, best first.

    Ranks start at 1; a key repeated within one ranking counts at its best rank only. Ties
    are broken by key ascending. Each key's terms are summed with `math.fsum`, so the fused
    score does not depend on the order of the rankings and equal sums tie exactly.
    """
    if k < 0:
        raise ValueError(f"rrf: k must be >= 0, got {k}")
    terms: dict[str, list[float]] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            terms.setdefault(key, []).append(1.0 / (k + rank))
    fused = [(key, math.fsum(parts)) for key, parts in terms.items()]
    fused.sort(key=lambda item: (-item[1], item[0]))
    return fused
