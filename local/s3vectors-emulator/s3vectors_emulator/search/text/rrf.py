"""Reciprocal Rank Fusion (Cormack, Clarke and Büttcher, SIGIR 2009)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

# AWS does not publish its constant; 60 is the paper's and the usual default.
RRF_K = 60
# Relative gap under which two float sums may be mathematically equal (or swapped): far above
# the few ulps that summing a handful of terms can be off by.
_NEAR = 1e-9


def rrf(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse rankings (each best first) into (key, sum of 1/(k + rank)) pairs, best first.

    Ranks start at 1; a key repeated within one ranking counts at its best rank only. Ties
    are broken by key ascending. The order is that of the exact sums (fractions), so two
    keys whose sums are mathematically equal tie even where floating-point sums of the same
    terms differ in the last bit (1/2 + 1/3 + 1/3 against 1/1 + 1/6). Keys that tie get one
    score (their exact sum rounded to the nearest float); any other score is the `math.fsum`
    of its terms.
    """
    if k < 0:
        raise ValueError(f"rrf: k must be >= 0, got {k}")
    ranks: dict[str, list[int]] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, key in enumerate(ranking, start=1):
            if key in seen:
                continue
            seen.add(key)
            ranks.setdefault(key, []).append(k + rank)
    # Floats order all but near-ties (their error is a few ulps); each run of near-equal floats
    # is then ordered on exact fractions, which costs little: such runs are rare and short.
    rough = sorted(
        ((math.fsum(1.0 / d for d in ds), key) for key, ds in ranks.items()),
        key=lambda item: (-item[0], item[1]),
    )
    out: list[tuple[str, float]] = []
    start = 0
    while start < len(rough):
        end = start + 1
        while end < len(rough) and rough[end - 1][0] - rough[end][0] <= _NEAR * rough[end][0]:
            end += 1
        run = rough[start:end]
        if len(run) > 1:
            exact = {key: sum((Fraction(1, d) for d in ranks[key]), Fraction(0)) for _, key in run}
            run = sorted(
                ((float(exact[key]), key) for _, key in run),
                key=lambda item: (-exact[item[1]], item[1]),
            )
        out.extend((key, score) for score, key in run)
        start = end
    return out
