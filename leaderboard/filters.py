"""FastChat's offline vote rules as pure masks over vote arrays (True = the vote stays counted).

* :func:`daily_cap_mask`: FastChat's ``--daily-vote-per-user N`` (``limit_user_votes`` in
  ``fastchat/serve/monitor/elo_analysis.py``): with the battles sorted by time, for each calendar day
  only the **first** N votes of each judge are kept (``groupby("judge").head(N)`` per date); later votes
  of that day are dropped, earlier days do not carry over. FastChat dates votes in the server's local
  time zone (``datetime.fromtimestamp``); we use UTC days (``day_offset_s`` shifts the day boundary, e.g.
  ``-8 * 3600`` for a UTC-8 server's midnight). FastChat applies the cap after dropping excluded models
  and non-anonymous battles, so only votes that would otherwise count use up a judge's allowance: apply
  this mask to those votes, in the same way.
* :func:`excluded_models_mask`: FastChat's ``--exclude-models``: a battle with an excluded model on
  either side is dropped. :func:`resolve_models` turns names into the index mask and reports names that
  match no model (FastChat ignores them silently; a typo should be seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

DAY_S = 86_400


def daily_cap_mask(
    judge: ArrayLike, tstamp: ArrayLike, cap: int, *, day_offset_s: float = 0.0
) -> NDArray[np.bool_]:
    """Keep each judge's first ``cap`` votes of every day (``tstamp``: Unix seconds). Equal times keep
    the input order (vote id order when the votes come ordered by id; FastChat's unstable sort leaves
    them in no set order)."""
    if isinstance(cap, bool) or not isinstance(cap, int | np.integer) or cap < 1:
        raise ValueError(f"the daily vote cap must be a whole number >= 1, got {cap!r}")
    j = np.asarray(judge, dtype=np.int64)
    t = np.asarray(tstamp, dtype=np.float64)
    if j.ndim != 1 or j.shape != t.shape:
        raise ValueError("judge and tstamp must be 1-D arrays of equal length")
    if len(t) and not np.isfinite(t).all():
        raise ValueError("tstamp must be finite Unix seconds")
    n = len(j)
    day = np.floor((t + day_offset_s) / DAY_S).astype(np.int64)
    order = np.lexsort((np.arange(n), t, day, j))  # by judge, day, time, input position
    js, ds = j[order], day[order]
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (js[1:] != js[:-1]) | (ds[1:] != ds[:-1])
    start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    keep = np.empty(n, dtype=bool)
    keep[order] = np.arange(n) - start < cap
    return keep


def resolve_models(models: Sequence[str], names: Iterable[str]) -> tuple[NDArray[np.bool_], list[str]]:
    """Mask over ``models`` of the given names, and the names that match no model (sorted)."""
    wanted = set(names)
    mask = np.array([m in wanted for m in models], dtype=bool)
    return mask, sorted(wanted - set(models))


def excluded_models_mask(model_a: ArrayLike, model_b: ArrayLike, excluded: ArrayLike) -> NDArray[np.bool_]:
    """True where neither side's model index is excluded (``excluded``: a bool mask over models)."""
    ex = np.asarray(excluded, dtype=bool)
    a = np.asarray(model_a, dtype=np.int64)
    b = np.asarray(model_b, dtype=np.int64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError("model_a and model_b must be 1-D arrays of equal length")
    if len(a) and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= len(ex)):
        raise ValueError(f"model index out of range 0..{len(ex) - 1}")
    return np.asarray(~(ex[a] | ex[b]), dtype=bool)
