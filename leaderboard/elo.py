"""Online (sequential) Elo: the textbook update applied battle by battle in time order."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from leaderboard.data import FloatArray, validate_battles


def online_elo(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    n_models: int,
    *,
    k: float = 4.0,
    base: float = 10.0,
    scale: float = 400.0,
    initial: float = 1000.0,
) -> FloatArray:
    """Ratings after updating, in the given order, ``r_a += k (s_a - e_a)`` and ``r_b += k (s_b - e_b)``
    with ``e_a = 1 / (1 + base ** ((r_b - r_a) / scale))``, ``e_b`` alike, and ``s`` 1 / 0 / 0.5 (both
    tie kinds). The loop is inherently sequential; it runs over plain Python lists with local variables,
    which is several times faster than indexing numpy arrays element by element.
    """
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    rating = [float(initial)] * n_models
    score = [1.0, 0.0, 0.5, 0.5]
    s_list = [score[c] for c in o.tolist()]
    for i, j, sa in zip(a.tolist(), b.tolist(), s_list, strict=True):
        ra = rating[i]
        rb = rating[j]
        q = (rb - ra) / scale  # (ra - rb) / scale is exactly -q in IEEE arithmetic
        rating[i] = ra + k * (sa - 1 / (1 + base**q))
        rating[j] = rb + k * (1 - sa - 1 / (1 + base**-q))
    return np.array(rating, dtype=np.float64)
