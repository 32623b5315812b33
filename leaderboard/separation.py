"""Separation in the style-controlled fit: when the votes can be explained perfectly by some direction of
(ratings, style coefficients), the maximum-likelihood estimate does not exist, the fitted point runs off
towards infinity (held back only by the ridge) and the sandwich interval around it comes out far too
narrow. With a handful of votes this is the usual case, not an exception.

:func:`is_separated` checks it exactly with a linear program (the Konis 2007 test for logistic
regression): is there a direction ``w`` (bounded, ``|w| <= 1``) under which every decided battle's winner
scores at least its loser (``s_i z_i.w >= 0``), every tie scores level (``z_i.w = 0``) and at least one
decided battle strictly (``sum s_i z_i.w > 0``)? ``z_i`` is the battle's row of the design: +1 for model A,
-1 for model B, then its style differences. :func:`floor_intervals` then widens the style intervals to at
least the plain fit's width, which is what the data can support.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: an LP optimum above this (the objective sums at most len(battles) terms of size <= 1) is separation
_TOLERANCE = 1e-7


def is_separated(
    model_a: IntArray, model_b: IntArray, outcome: FloatArray, n_models: int, x: FloatArray
) -> bool:
    """Whether the style model (ratings plus the columns of ``x``) separates the battles.

    ``outcome``: 1 (A won), 0 (B won), 0.5 (tie); rows with weight 0 should be left out by the caller.
    """
    n = len(model_a)
    if n == 0:
        return False
    rows = np.arange(n)
    z = np.zeros((n, n_models + x.shape[1]))
    z[rows, model_a] += 1.0
    z[rows, model_b] -= 1.0
    z[:, n_models:] = x
    sign = np.where(outcome > 0.75, 1.0, np.where(outcome < 0.25, -1.0, 0.0))
    decided = sign != 0
    if not decided.any():
        return False
    signed = z[decided] * sign[decided, None]
    ties = z[~decided]
    result = linprog(
        c=-signed.sum(axis=0),  # maximise the total margin
        A_ub=-signed,  # every winner at least level: -s z.w <= 0
        b_ub=np.zeros(len(signed)),
        A_eq=ties if len(ties) else None,
        b_eq=np.zeros(len(ties)) if len(ties) else None,
        bounds=[(-1.0, 1.0)] * z.shape[1],
        method="highs",
    )
    return bool(result.status == 0 and -float(result.fun) > _TOLERANCE)


def floor_intervals(
    rating: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    plain: tuple[FloatArray, FloatArray, FloatArray],
) -> tuple[FloatArray, FloatArray]:
    """Style intervals widened so that each side is at least as wide as the plain fit's for that model.

    ``plain``: (rating, lower, upper) of the plain Bradley-Terry fit, in the same model order. A model whose
    plain side is not finite keeps its style side."""
    p_rating, p_lower, p_upper = plain
    below = np.maximum(rating - lower, np.nan_to_num(p_rating - p_lower, nan=0.0, posinf=0.0, neginf=0.0))
    above = np.maximum(upper - rating, np.nan_to_num(p_upper - p_rating, nan=0.0, posinf=0.0, neginf=0.0))
    return rating - below, rating + above
