"""Seeded random draws every collection's synthetic data uses: a stream per LA and purpose, a
weighted choice, and counts that round to a published percentage."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable


def la_rng(seed: int, la: str, stream: str) -> random.Random:
    # A string seed is hashed with SHA-512, so this is stable across runs and processes.
    return random.Random(f"keystage-synthetic:{seed}:{la}:{stream}")


def weighted(rng: random.Random, pairs: Iterable[tuple[str, float]]) -> str:
    pairs = tuple(pairs)
    total = sum(w for _, w in pairs)
    r = rng.random() * total
    for item, w in pairs:
        r -= w
        if r < 0:
            return item
    return pairs[-1][0]


def exact_count(target: int, n: int) -> int:
    """A count c with 100*c/n strictly inside (target - 0.5, target + 0.5), so that it rounds
    to `target` under either half-up or half-even rounding; the nearest one if none does."""
    if n <= 0:
        return 0
    ideal = target * n / 100
    candidates = sorted(range(max(0, int(ideal) - 2), min(n, int(ideal) + 3) + 1),
                        key=lambda c: (abs(c - ideal), c))  # fmt: skip
    for c in candidates:
        if (2 * target - 1) * n < 200 * c < (2 * target + 1) * n:
            return c
    return min(n, max(0, round(ideal)))


def noisy_count(rng: random.Random, p: float, n: int) -> int:
    # Normal approximation to a binomial draw (random.binomialvariate is Python 3.12+).
    c = round(n * p + math.sqrt(max(n * p * (1 - p), 0.0)) * rng.gauss(0.0, 1.0))
    return min(n, max(0, c))
