"""Bootstrap intervals for Bradley-Terry ratings, on aggregated cells.

Resampling N battles with replacement is exactly a multinomial draw of N over the distinct
(pair, outcome) cells with probabilities count/N, so a round never touches per-battle rows. Each round's
MLE is found from the full-data MLE by chord-Newton iterations (the full-data Hessian, factorised once,
reused for every round and iteration; batched over rounds), which converge to the same optimum as full
Newton. Rounds that do not converge quickly, or whose data lost a model's wins or losses, are refitted with
:func:`leaderboard.bt.fit_bt` (which adds the ridge when the round's MLE does not exist).

Rounds are cut into fixed chunks; chunk ``c`` draws from its own generator seeded from the caller's
generator, so results depend only on the caller's generator, never on the number of threads.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.linalg
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from threadpoolctl import threadpool_limits

from leaderboard.bt import BTFit, Identification, fit_bt, hessian, regularised_hessian
from leaderboard.data import FloatArray, PairCounts

CHUNK = 25
CHORD_MAX_ITER = 60
# Rounds stop at steps below 1e-6 theta (0.0002 rating points): far below the Monte Carlo error of a
# 1000-round percentile (~0.5 points). The point estimate itself is converged to 1e-10.
ROUND_TOL = 1e-6


def multinomial_rounds(counts: NDArray[np.int64], rng: np.random.Generator, rounds: int) -> NDArray[np.int64]:
    """``rounds`` exact draws from Multinomial(N = sum(counts), counts / N), shape (rounds, K).

    numpy's multinomial spends ~150-500 ns per cell on a fresh binomial set-up; this is 2-3x faster and
    still exact: draw independent X_k ~ Poisson(counts_k) (then X | sum(X) = t is Multinomial(t, p)); if
    t > N remove t - N of the t items chosen uniformly without replacement (a uniform subset of iid draws
    is iid), if t < N add N - t fresh categorical draws. The correction touches ~sqrt(N) items.
    """
    n = int(counts.sum())
    x = rng.poisson(counts.astype(np.float64), size=(rounds, len(counts)))
    cum = np.cumsum(counts)
    for r, total in enumerate(x.sum(axis=1).tolist()):
        diff = total - n
        if diff > 0:
            pos = rng.choice(total, size=diff, replace=False)
            x[r] -= np.bincount(np.searchsorted(np.cumsum(x[r]), pos, side="right"), minlength=len(counts))
        elif diff < 0:
            pos = rng.integers(0, n, size=-diff)
            x[r] += np.bincount(np.searchsorted(cum, pos, side="right"), minlength=len(counts))
    return x


def draw_rounds(
    pc: PairCounts, rng: np.random.Generator, rounds: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``rounds`` resamples of the battles (multinomial over the cells); returns (i_wins, j_wins, ties),
    each of shape (rounds, P)."""
    cells = np.concatenate([pc.i_wins, pc.j_wins, pc.ties])
    whole = np.round(cells)
    if not np.allclose(cells, whole):
        raise ValueError("bootstrap needs whole battle counts (got fractional counts)")
    full = multinomial_rounds(whole.astype(np.int64), rng, rounds).astype(np.float64)
    p = len(pc.i)
    return full[:, :p], full[:, p : 2 * p], full[:, 2 * p :]


def incidence(pc: PairCounts) -> csr_matrix:
    """(P, m) matrix with +1 at (p, i_p) and -1 at (p, j_p)."""
    p_idx = np.arange(len(pc.i))
    return csr_matrix(
        (np.repeat([1.0, -1.0], len(p_idx)), (np.tile(p_idx, 2), np.concatenate([pc.i, pc.j]))),
        shape=(len(p_idx), pc.n_models),
    )


# Draws ``rounds`` resampled data sets: (i_wins, j_wins, ties), each of shape (rounds, P).
RoundDraw = Callable[[np.random.Generator, int], tuple[FloatArray, FloatArray, FloatArray]]


def _chunk_thetas(
    pc: PairCounts,
    fit: BTFit,
    rng: np.random.Generator,
    rounds: int,
    chol: tuple[FloatArray, bool],
    draw: RoundDraw,
) -> FloatArray:
    """Thetas of ``rounds`` rounds, shape (rounds, m). Arrays are laid out (pairs, rounds) so that gathers
    and the sparse products run over contiguous rows."""
    iw, jw, ti = (np.ascontiguousarray(x.T) for x in draw(rng, rounds))
    n = iw + jw + ti
    w = iw + 0.5 * ti
    inc = incidence(pc)  # (P, m): d = inc @ theta is 4x faster than gathering theta[i] - theta[j]
    inc_t = inc.T.tocsr()  # (m, P)
    played = abs(inc_t) @ n  # (m, B)
    score = inc_t @ (w - 0.5 * n) + 0.5 * played  # points of each model
    bad = np.zeros(rounds, dtype=bool)
    if fit.ridge == 0:
        # no points or no losses: the round has no finite MLE; refit it below with fit_bt
        bad = np.any(score <= 0, axis=0) | np.any(score >= played, axis=0)
        if bad.any():  # give bad rounds the full data so the chord iterations converge at once for them
            n[:, bad] = pc.total[:, None]
            w[:, bad] = pc.i_score[:, None]
    theta = np.repeat(fit.theta[:, None], rounds, axis=1)  # (m, B)
    sig = np.empty_like(n)
    converged = False
    for _ in range(CHORD_MAX_ITER):
        d = inc @ theta
        # sigmoid(d) = (1 + tanh(d/2)) / 2: numpy's tanh is ~2x faster than scipy's expit here
        np.multiply(d, 0.5, out=sig)
        np.tanh(sig, out=sig)
        np.multiply(sig, 0.5, out=sig)
        np.add(sig, 0.5, out=sig)
        np.multiply(sig, n, out=sig)
        np.subtract(w, sig, out=sig)  # minus the gradient, per pair
        g = inc_t @ sig
        if fit.ridge:
            g -= fit.ridge * theta
        step = scipy.linalg.cho_solve(chol, g)
        if fit.ridge == 0:
            step -= step.mean(axis=0, keepdims=True)
        theta += step
        still = np.max(np.abs(step), axis=0) >= ROUND_TOL
        if not still.any():
            converged = True
            break
    if not converged:
        bad |= still
    theta = np.ascontiguousarray(theta.T)
    for b in np.flatnonzero(bad):
        one = pc.with_counts(iw[:, b], jw[:, b], ti[:, b])
        theta[b] = fit_bt(one, ridge=fit.ridge if fit.ridge > 0 else None, theta0=fit.theta).theta
    # A model that drew no battle in a round has no rating in that round.
    theta[(played == 0).T] = np.nan
    return theta


def bootstrap_thetas(
    pc: PairCounts,
    fit: BTFit,
    rng: np.random.Generator,
    *,
    rounds: int = 1000,
    threads: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> FloatArray:
    """Theta of each bootstrap round, shape (rounds, m); NaN where a model drew no battle."""
    return resampled_thetas(
        pc, fit, lambda g, r: draw_rounds(pc, g, r), rng, rounds=rounds, threads=threads, progress=progress
    )


def resampled_thetas(
    pc: PairCounts,
    fit: BTFit,
    draw: RoundDraw,
    rng: np.random.Generator,
    *,
    rounds: int = 1000,
    threads: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> FloatArray:
    """Theta of each round of any resampling scheme ``draw`` (battles: :func:`draw_rounds`; clusters:
    :mod:`leaderboard.clusters`), shape (rounds, m), solved exactly as :func:`bootstrap_thetas` does
    (chord-Newton from the full-data fit, chunked, seeded per chunk); NaN where a model drew no battle."""
    m = pc.n_models
    if rounds <= 0 or m == 0 or len(pc.i) == 0:
        return np.zeros((max(rounds, 0), m))
    h = regularised_hessian(hessian(fit.theta, pc, fit.ridge), fit.ridge)
    chol = scipy.linalg.cho_factor(h)
    sizes = [min(CHUNK, rounds - s) for s in range(0, rounds, CHUNK)]
    seeds = rng.integers(0, 2**63, size=len(sizes))
    out = np.empty((rounds, m))

    def run(c: int) -> int:
        start = c * CHUNK
        gen = np.random.Generator(np.random.PCG64(int(seeds[c])))
        out[start : start + sizes[c]] = _chunk_thetas(pc, fit, gen, sizes[c], chol, draw)
        return sizes[c]

    done = 0
    # Small matrices: BLAS threads only add contention; parallelism comes from our own chunk threads.
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(max(1, threads)) as pool:
        for size in pool.map(run, range(len(sizes))):
            done += size
            if progress is not None:
                progress(done, rounds)
    return out


def percentile_intervals(samples: FloatArray, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Percentile interval per column (2.5 / 97.5 for 95%), ignoring NaN rounds."""
    q = [50 * (1 - level), 100 - 50 * (1 - level)]
    if samples.shape[0] == 0:
        nan = np.full(samples.shape[1], np.nan)
        return nan, nan
    fn = np.nanpercentile if np.isnan(samples).any() else np.percentile
    lo, hi = fn(samples, q, axis=0)
    return lo, hi


def bootstrap_intervals(
    pc: PairCounts,
    fit: BTFit,
    ident: Identification,
    rng: np.random.Generator,
    *,
    rounds: int = 1000,
    level: float = 0.95,
    threads: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Percentile interval of the ratings, each round identified exactly like the point estimate."""
    thetas = bootstrap_thetas(pc, fit, rng, rounds=rounds, threads=threads, progress=progress)
    return percentile_intervals(identify_rounds(ident, thetas), level)


def identify_rounds(ident: Identification, thetas: FloatArray) -> FloatArray:
    """Ratings of each round; with mean identification a model missing from a round is left out of the
    mean of that round (its rating there is NaN)."""
    ratings = ident.ratings(thetas)
    if ident.anchor is None:
        for r in np.flatnonzero(np.isnan(thetas).any(axis=1)):
            ratings[r] = _ratings_with_missing(ident, thetas[r])
    return ratings


def _ratings_with_missing(ident: Identification, theta: FloatArray) -> FloatArray:
    keep = ident.rankable & ~np.isnan(theta)
    ref = theta[keep].mean() if keep.any() else 0.0
    return ident.value + ident.scale_factor * (theta - ref)
