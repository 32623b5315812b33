"""A synthetic arena with honest judges and planted bots (tests and bench/integrity_scan.py use it).

Honest judges vote by the true strengths plus a preference for the longer answer that everyone shares
(``beta`` per standard deviation of the style feature ``(t_a - t_b) / (t_a + t_b + 1)``): expected score
``p = expit(theta_a - theta_b + beta * x_std)``, a tie with probability ``tie_rate * 2 min(p, 1 - p)``
(a third of them "tie (bothbad)"), otherwise model_a wins with probability ``(p - t/2) / (1 - t)``, so the
expected score is exactly ``p``. Answer lengths do not depend on the model.

Bots: ``favourite`` votes only in battles of its model (detected by content, as real promotion scripts
do) and always for it; ``longer`` always votes for the longer answer; ``random`` picks one of the four
outcomes uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leaderboard.style import style_covariates

BOT_KINDS = ("favourite", "longer", "random")


@dataclass
class Arena:
    theta: np.ndarray  # true strengths (natural-log BT scale), mean 0
    judge: np.ndarray
    a: np.ndarray
    b: np.ndarray
    o: np.ndarray
    tokens_a: np.ndarray
    tokens_b: np.ndarray
    kind: list[str]  # per judge: "honest" or a bot kind
    favourite: dict[int, int]  # favourite bot judge -> its model

    @property
    def n_judges(self) -> int:
        return len(self.kind)

    def is_bot(self) -> np.ndarray:
        return np.array([k != "honest" for k in self.kind])

    def style_x(self) -> np.ndarray:
        """The standardised token feature (n, 4), other style features zero (so dropped by the fit)."""
        fa = np.zeros((len(self.a), 4))
        fb = np.zeros((len(self.a), 4))
        fa[:, 0], fb[:, 0] = self.tokens_a, self.tokens_b
        return style_covariates(fa, fb)[0]


def _pairs(rng: np.random.Generator, m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, m, n)
    return a, (a + rng.integers(1, m, n)) % m


def _tokens(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.rint(rng.lognormal(np.log(300), 0.7, n)).astype(np.int64)


def honest_outcomes(rng: np.random.Generator, eta: np.ndarray, tie_rate: float = 0.3) -> np.ndarray:
    p = 1 / (1 + np.exp(-eta))
    t = tie_rate * 2 * np.minimum(p, 1 - p)
    u = rng.random(len(p))
    win = rng.random(len(p)) < (p - t / 2) / (1 - t)
    return np.where(u < t, np.where(u < t / 3, 3, 2), np.where(win, 0, 1))


def simulate_arena(
    rng: np.random.Generator,
    *,
    models: int = 20,
    honest: int = 200,
    bots: dict[str, int] | None = None,
    votes: tuple[int, int] = (50, 500),
    spread: float = 150.0,
    beta: float = 0.3,
    tie_rate: float = 0.3,
) -> Arena:
    """``spread``: sd of the true ratings in Elo points; ``votes``: each judge's vote count is uniform in
    this range (inclusive); ``bots``: kind -> how many."""
    bots = bots if bots is not None else {"favourite": 4, "longer": 3, "random": 3}
    theta = rng.normal(0, spread * np.log(10) / 400, models)
    theta -= theta.mean()
    kind = ["honest"] * honest + [k for k, c in bots.items() for _ in range(c)]
    counts = rng.integers(votes[0], votes[1] + 1, len(kind))
    judge = np.repeat(np.arange(len(kind)), counts)
    n = len(judge)
    a, b = _pairs(rng, models, n)
    ta, tb = _tokens(rng, n), _tokens(rng, n)
    favourite: dict[int, int] = {}
    for jd, k in enumerate(kind):  # a favourite bot only votes in battles of its model
        if k == "favourite":
            x = int(rng.integers(models))
            favourite[jd] = x
            rows = np.flatnonzero(judge == jd)
            other = (x + rng.integers(1, models, len(rows))) % models
            side = rng.random(len(rows)) < 0.5
            a[rows] = np.where(side, x, other)
            b[rows] = np.where(side, other, x)
    fa = np.zeros((n, 4))
    fb = np.zeros((n, 4))
    fa[:, 0], fb[:, 0] = ta, tb
    x_std = style_covariates(fa, fb)[0][:, 0]
    o = honest_outcomes(rng, theta[a] - theta[b] + beta * x_std, tie_rate)
    kinds = np.array(kind)[judge]
    fav_model = np.array([favourite.get(jd, -1) for jd in range(len(kind))])[judge]
    fav = kinds == "favourite"
    o[fav] = np.where(a[fav] == fav_model[fav], 0, 1)
    lon = kinds == "longer"
    o[lon] = np.where(ta[lon] > tb[lon], 0, np.where(ta[lon] < tb[lon], 1, 2))
    rnd = kinds == "random"
    o[rnd] = rng.integers(0, 4, int(rnd.sum()))
    return Arena(theta, judge, a, b, o, ta, tb, kind, favourite)
