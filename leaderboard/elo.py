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
    start: ArrayLike | None = None,
) -> FloatArray:
    """Ratings after updating, in the given order, ``r_a += k (s_a - e_a)`` and ``r_b += k (s_b - e_b)``
    with ``e_a = 1 / (1 + base ** ((r_b - r_a) / scale))``, ``e_b`` alike, and ``s`` 1 / 0 / 0.5 (both
    tie kinds). The loop is inherently sequential; it runs over plain Python lists with local variables,
    which is several times faster than indexing numpy arrays element by element.

    ``start`` continues from earlier ratings (``initial`` for a model not rated yet): running the battles
    in two parts, the second from the first's ratings, gives bit for bit the ratings of one run (the same
    float64 operations in the same order), which is what the incremental recompute relies on.
    """
    a, b, o = validate_battles(model_a, model_b, outcome, n_models)
    if start is None:
        rating = [float(initial)] * n_models
    else:
        rating = [float(x) for x in np.asarray(start, dtype=np.float64).tolist()]
        if len(rating) != n_models:
            raise ValueError(f"start has {len(rating)} ratings for {n_models} models")
    score = [1.0, 0.0, 0.5, 0.5]
    s_list = [score[c] for c in o.tolist()]
    for i, j, sa in zip(a.tolist(), b.tolist(), s_list, strict=True):
        ra = rating[i]
        rb = rating[j]
        q = (rb - ra) / scale  # (ra - rb) / scale is exactly -q in IEEE arithmetic
        rating[i] = ra + k * (sa - 1 / (1 + base**q))
        rating[j] = rb + k * (1 - sa - 1 / (1 + base**-q))
    return np.array(rating, dtype=np.float64)
