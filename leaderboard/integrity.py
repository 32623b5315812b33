"""Vote-integrity screening: judges whose votes are unlikely under the ratings everyone else set.

The Chatbot Arena paper (arXiv 2403.04132, "detecting anomalous users") gives each new vote a p-value
against the historical votes of the same model pair, combines a user's p-values with Fisher's method and
flags the user when ``-2 sum log p_i`` exceeds the chi-squared (2j degrees of freedom) quantile at level
alpha/5 (Bonferroni over five random checkpoints). We follow that plan with three changes, each for a
reason that the benchmark (``bench/integrity_scan.py``) measures:

* **The null comes from the fitted model**, not from raw pair histories: per vote the probabilities of
  the four outcomes (:func:`outcome_model`) are the Bradley-Terry expected score ``s`` of model_a (with an
  optional per-vote offset, e.g. the style-control term) split with the pair's tie rate ``tau`` and
  bothbad share ``rho`` (shrunk to the overall rates): ``(s - tau/2, 1 - s - tau/2, tau(1-rho), tau rho)``,
  whose expected score is exactly ``s``. Pairs with few votes still get a sensible null.
* **Randomised per-vote p-values**, so that an honest judge's p-values are exactly Uniform(0, 1) and
  Fisher's statistic exactly chi-squared: with the outcomes ordered from least to most probable, the
  p-value of outcome ``k`` is ``P(a less probable outcome) + U * P(k)``, ``U ~ Uniform(0, 1)`` ("at least
  as surprising"; ties of probability broken by outcome code). A plain "at least as surprising" p-value
  of a four-valued outcome is conservative (never below the least probable outcome's probability), which
  biases Fisher's statistic towards acceptance; the mid-p is not uniform either. ``U`` comes from
  :func:`vote_uniforms` (a hash of the vote id: the same vote keeps its ``U`` in every scan, so flags do
  not flicker between scans) or from a ``numpy.random.Generator``.
* **Two more statistics**, because "surprise" only sees votes that go against the ratings: a bot that
  always votes for a strong model, or for the longer answer, casts mostly *unsurprising* votes.
  ``model_bias``: per (judge, model), Stouffer's Z of the model's randomised score PIT
  (``Phi^-1(F(score-) + U P(score))``, exactly N(0, 1) per vote under the null), two-sided, Bonferroni
  over the models the judge met (favouring or burying one model). ``covariate``: the same Z for the side
  with the larger per-vote covariate (e.g. answer length), two-sided; its null must include the
  population's own preference for that covariate (pass the style-control term as ``offset``), or honest
  judges who like long answers as much as everyone does get flagged.

A judge's p-value is the Bonferroni combination of the statistics run (``min(1, K min p_t)``, valid under
any dependence between them); the correction across judges is Benjamini-Hochberg by default (a false
discovery rate: among excluded judges, the expected share of honest ones is at most ``alpha``; judges are
independent under the null given the ratings) or Bonferroni (a family-wise error rate: with 10,000
judges the per-judge bar is 5e-6, which misses short-lived bots). Only judges with at least
``min_votes`` scored votes are screened (FastChat checks users with at least 5 votes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erfc, expit, ndtri

from leaderboard.data import FloatArray, IntArray, validate_battles
from leaderboard.multitest import CORRECTIONS, adjust, fisher_by_group, stouffer_by_group

TESTS = ("surprise", "model_bias", "covariate")
TIE_PRIOR = 20.0  # pseudo-votes pulling a pair's tie rates towards the overall rates
PROB_FLOOR = 1e-4  # no outcome is impossible under the null (keeps -2 log p finite and honest)
_PIT_CLIP = 1e-15


@dataclass(frozen=True)
class OutcomeModel:
    """Per vote: the null probabilities of outcomes 0..3 (rows sum to 1) and whether the vote is scored
    (both models have a rating; others get uniform rows and are left out of every statistic)."""

    probs: FloatArray  # (n, 4)
    scored: NDArray[np.bool_]
    n_models: int


def outcome_model(
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    theta: ArrayLike,
    *,
    offset: ArrayLike | None = None,
    rated: ArrayLike | None = None,
    reference: ArrayLike | None = None,
    tie_prior: float = TIE_PRIOR,
) -> OutcomeModel:
    """The null outcome distribution of each vote from BT strengths ``theta`` (natural-log scale, as in
    ``BTFit.theta``/``StyleFit.theta``). ``offset`` is added to ``theta_a - theta_b`` per vote (the style
    term ``x @ beta``). A model is unrated when ``rated`` is False for it (pass ``BTFit.rankable``: an
    unrankable model's strength is set by the ridge, not by data) or its theta is NaN. Tie rates are
    estimated from the scored votes, or only from those where ``reference`` is True (a second pass: the
    votes of the judges the first pass did not flag, the same votes ``theta`` was refitted on)."""
    th = np.asarray(theta, dtype=np.float64)
    m = len(th)
    a, b, o = validate_battles(model_a, model_b, outcome, m)
    ok_model = np.isfinite(th) if rated is None else np.isfinite(th) & np.asarray(rated, dtype=bool)
    scored = ok_model[a] & ok_model[b]
    eta = np.where(scored, np.nan_to_num(th)[a] - np.nan_to_num(th)[b], 0.0)
    if offset is not None:
        off = np.asarray(offset, dtype=np.float64)
        if off.shape != a.shape or not np.isfinite(off).all():
            raise ValueError("offset must be a finite 1-D array as long as the votes")
        eta = eta + off
    s = expit(eta)
    closeness = 2.0 * np.minimum(s, 1.0 - s)  # 1 for an even contest, 0 for a foregone one
    basis = scored
    if reference is not None:
        ref = np.asarray(reference, dtype=bool)
        if ref.shape != scored.shape:
            raise ValueError("reference must be one flag per vote")
        basis = scored & ref
    tau, rho = _tie_rates(a, b, o, basis, closeness, m, tie_prior)
    tau = np.minimum(tau, closeness)  # keeps both win probabilities >= 0
    probs = np.column_stack([s - tau / 2, 1.0 - s - tau / 2, tau * (1.0 - rho), tau * rho])
    probs = np.maximum(probs, PROB_FLOOR)
    probs /= probs.sum(axis=1, keepdims=True)
    probs[~scored] = 0.25
    return OutcomeModel(probs, scored, m)


def _tie_rates(
    a: IntArray,
    b: IntArray,
    o: IntArray,
    basis: NDArray[np.bool_],
    closeness: FloatArray,
    m: int,
    prior: float,
) -> tuple[FloatArray, FloatArray]:
    """Per vote: the tie probability (both kinds) and the bothbad share of ties, from the ``basis`` votes.

    A pair's tie rate and bothbad share are shrunk to the overall rates with ``prior`` pseudo-votes.
    Within a pair the tie rate is spread in proportion to each vote's ``closeness`` (close contests tie
    more): without an offset every vote of a pair has the same expected score, so this is the pair's
    rate; with a style offset a vote whose answers differ a lot in style ties less. (Measured: with a
    flat per-pair rate, honest judges' p-values were visibly non-uniform once style swayed the votes.)"""
    n = len(a)
    if n == 0:
        return np.zeros(0), np.zeros(0)
    key = np.minimum(a, b) * m + np.maximum(a, b)
    _, inv = np.unique(key, return_inverse=True)
    w = basis.astype(np.float64)
    tie = w * (o >= 2)
    bad = w * (o == 3)
    n_pair, t_pair, b_pair, c_pair = (np.bincount(inv, x) for x in (w, tie, bad, w * closeness))
    tau0 = tie.sum() / max(w.sum(), 1.0)
    rho0 = bad.sum() / tie.sum() if tie.sum() > 0 else 0.0
    tau = (t_pair + prior * tau0) / (n_pair + prior)
    rho = (b_pair + prior * rho0) / (t_pair + prior)
    mean_closeness = np.where(n_pair > 0, c_pair / np.maximum(n_pair, 1.0), 1.0)
    spread = np.where(mean_closeness[inv] > 0, closeness / np.maximum(mean_closeness[inv], 1e-300), 1.0)
    return tau[inv] * spread, rho[inv]


def vote_uniforms(vote_ids: ArrayLike, key: int = 0) -> FloatArray:
    """A Uniform(0, 1) number per vote id (splitmix64 hash; open interval): the same id and key give the
    same number in every scan, so a vote's randomised p-value does not change when new votes arrive."""
    x = np.asarray(vote_ids, dtype=np.int64).astype(np.uint64)
    z = x + np.uint64((0x9E3779B97F4A7C15 * (key + 1)) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.asarray(((z >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53, dtype=np.float64)


def surprise_pvalues(probs: FloatArray, outcome: ArrayLike, u: ArrayLike) -> FloatArray:
    """Randomised p-value of each observed outcome: the probability of a less probable outcome plus
    ``u`` times its own probability (exactly Uniform(0, 1) when the outcome follows ``probs``)."""
    o = np.asarray(outcome, dtype=np.int64)
    rows = np.arange(len(o))
    own = probs[rows, o][:, None]
    codes = np.arange(4)[None, :]
    less = (probs < own) | ((probs == own) & (codes < o[:, None]))
    return np.asarray((probs * less).sum(axis=1) + np.asarray(u) * own[:, 0], dtype=np.float64)


def score_z(probs: FloatArray, outcome: ArrayLike, u: ArrayLike) -> FloatArray:
    """Standard-normal score of model_a's result (0 loss, 1/2 either tie, 1 win) per vote: ``Phi^-1`` of
    its randomised PIT ``F(score-) + u P(score)``. Model_b's score is the negative."""
    o = np.asarray(outcome, dtype=np.int64)
    p_loss, p_tie = probs[:, 1], probs[:, 2] + probs[:, 3]
    below = np.select([o == 1, o >= 2], [0.0, p_loss], p_loss + p_tie)
    own = np.select([o == 1, o >= 2], [p_loss, p_tie], probs[:, 0])
    pit = np.clip(below + np.asarray(u) * own, _PIT_CLIP, 1.0 - _PIT_CLIP)
    return np.asarray(ndtri(pit), dtype=np.float64)


@dataclass(frozen=True)
class JudgeScan:
    """Per judge code ``0..n_judges-1``. Unscreened judges (fewer than ``min_votes`` scored votes) keep
    their per-statistic values but get a combined ``pvalue`` of 1, a NaN ``adjusted`` value and are never
    flagged (nor counted in the correction)."""

    votes: IntArray  # scored votes
    screened: NDArray[np.bool_]
    surprise_statistic: FloatArray  # Fisher's -2 sum log p (chi-squared with 2 * votes df)
    surprise_p: FloatArray
    bias_z: FloatArray  # Stouffer Z of the most extreme model (positive: favoured)
    bias_model: IntArray  # that model's index, -1 when none
    bias_p: FloatArray  # two-sided, Bonferroni over the models met
    covariate_z: FloatArray  # positive: sides with the larger covariate win more than expected
    covariate_p: FloatArray
    pvalue: FloatArray  # Bonferroni over the statistics run
    adjusted: FloatArray  # after the correction across screened judges
    flagged: NDArray[np.bool_]
    tests: tuple[str, ...]
    alpha: float
    correction: str

    def flagged_judges(self) -> IntArray:
        """Flagged judge codes, most significant first."""
        idx = np.flatnonzero(self.flagged)
        return idx[np.lexsort((idx, self.pvalue[idx]))]


def scan_judges(
    judge: ArrayLike,
    model_a: ArrayLike,
    model_b: ArrayLike,
    outcome: ArrayLike,
    null: OutcomeModel,
    n_judges: int,
    uniforms: ArrayLike | np.random.Generator,
    *,
    covariate: ArrayLike | None = None,
    tests: Sequence[str] | None = None,
    min_votes: int = 5,
    alpha: float = 0.05,
    correction: str = "bh",
) -> JudgeScan:
    """Score every judge (codes ``0..n_judges-1``) against ``null`` (from :func:`outcome_model` on the
    same votes). ``uniforms``: one number in (0, 1) per vote (:func:`vote_uniforms`) or a Generator.
    ``covariate``: per vote, positive when model_a's side has more of it (e.g. ``tokens_a - tokens_b``);
    only its sign is used. ``tests`` default: surprise and model_bias, plus covariate when given."""
    a, b, o = validate_battles(model_a, model_b, outcome, null.n_models)
    n = len(o)
    j = np.asarray(judge, dtype=np.int64)
    if j.shape != (n,) or null.probs.shape != (n, 4):
        raise ValueError("judge, battles and the null model must describe the same votes")
    if n and (j.min() < 0 or j.max() >= n_judges):
        raise ValueError(f"judge codes must be in 0..{n_judges - 1}")
    run = tuple(tests) if tests is not None else TESTS[:2] + (("covariate",) if covariate is not None else ())
    bad = [t for t in run if t not in TESTS]
    if bad or not run:
        raise ValueError(f"unknown or no tests {bad or run!r}: choose from {', '.join(TESTS)}")
    if "covariate" in run and covariate is None:
        raise ValueError("the covariate test needs a covariate per vote")
    if correction not in CORRECTIONS or not 0 < alpha < 1 or min_votes < 1:
        raise ValueError("need correction bh or bonferroni, 0 < alpha < 1 and min_votes >= 1")
    u = uniforms.random(n) if isinstance(uniforms, np.random.Generator) else np.asarray(uniforms, float)
    if u.shape != (n,) or (n and not ((u > 0) & (u < 1)).all()):
        raise ValueError("uniforms must be one number in (0, 1) per vote")

    s = null.scored
    js, a_s, b_s, o_s, u_s, probs = j[s], a[s], b[s], o[s], u[s], null.probs[s]
    votes = np.bincount(js, minlength=n_judges).astype(np.int64)
    ones, nan = np.ones(n_judges), np.full(n_judges, np.nan)
    fisher = fisher_by_group(surprise_pvalues(probs, o_s, u_s), js, n_judges)
    z = score_z(probs, o_s, u_s)
    bias_z, bias_model, bias_p = _model_bias(js, a_s, b_s, z, n_judges, null.n_models)
    cov_z, cov_p = nan.copy(), ones.copy()
    if "covariate" in run:
        x = np.sign(np.asarray(covariate, dtype=np.float64))
        if x.shape != (n,) or not np.isfinite(x).all():
            raise ValueError("covariate must be a finite 1-D array as long as the votes")
        xs = x[s]
        keep = xs != 0
        st = stouffer_by_group(xs[keep] * z[keep], js[keep], n_judges)
        cov_z, cov_p = np.where(st.count > 0, st.statistic, np.nan), st.pvalue
    parts = {"surprise": fisher.pvalue, "model_bias": bias_p, "covariate": cov_p}
    pvalue = np.minimum(1.0, len(run) * np.min([parts[t] for t in run], axis=0))
    screened = votes >= min_votes
    pvalue = np.where(screened, pvalue, 1.0)
    adjusted = nan.copy()
    adjusted[screened] = adjust(pvalue[screened], correction)
    return JudgeScan(
        votes=votes,
        screened=screened,
        surprise_statistic=fisher.statistic,
        surprise_p=fisher.pvalue,
        bias_z=bias_z,
        bias_model=bias_model,
        bias_p=bias_p,
        covariate_z=cov_z,
        covariate_p=cov_p,
        pvalue=pvalue,
        adjusted=adjusted,
        flagged=screened & (np.nan_to_num(adjusted, nan=1.0) <= alpha),
        tests=run,
        alpha=alpha,
        correction=correction,
    )


def _model_bias(
    j: IntArray, a: IntArray, b: IntArray, z: FloatArray, n_judges: int, m: int
) -> tuple[FloatArray, IntArray, FloatArray]:
    """Per (judge, model) Stouffer Z of the model's scores; per judge the most extreme model and its
    two-sided p-value times the number of models the judge met (Bonferroni)."""
    bias_z, bias_model, bias_p = np.zeros(n_judges), np.full(n_judges, -1), np.ones(n_judges)
    if len(j) == 0:
        return bias_z, bias_model, bias_p
    keys, inv = np.unique(np.concatenate([j * m + a, j * m + b]), return_inverse=True)
    count = np.bincount(inv)
    zc = np.bincount(inv, np.concatenate([z, -z])) / np.sqrt(count)
    cell_judge, cell_model = keys // m, keys % m
    order = np.lexsort((-np.abs(zc), cell_judge))  # per judge, most extreme cell first
    first = order[np.r_[True, np.diff(cell_judge[order]) != 0]]
    met = np.bincount(cell_judge, minlength=n_judges)
    jj = cell_judge[first]
    bias_z[jj] = zc[first]
    bias_model[jj] = cell_model[first]
    bias_p[jj] = np.minimum(1.0, met[jj] * erfc(np.abs(zc[first]) / np.sqrt(2.0)))
    return bias_z, bias_model, bias_p
