"""Incremental recompute: each category's pair counts and online Elo, kept up to date from the last vote
id they saw, so a recompute after a few hundred new votes reads only those votes.

Why it is exact: the Bradley-Terry fit, its bootstrap (a multinomial draw over the pair-outcome cells,
:mod:`leaderboard.bootstrap`), the sandwich, the Davidson fit, the pairwise tables and the #1-spot
fragility depend on the votes only through the per-pair outcome counts; online Elo is a fold over the votes
in id order, and continuing it from stored float64 ratings repeats the same operations
(:func:`leaderboard.elo.online_elo`, ``start``). So the :class:`BattleData` built here equals the one the
full read builds (same sorted model list, same pair order, same integer counts, same Elo bits), and
``compute_leaderboard`` gives the identical table: ``arena leaderboard rebuild`` (forget the tallies, build
them from every vote) and the plain full recompute agree with it, which the tests check on random vote
streams.

Staleness: a tally records the version of the counted votes up to its last vote id
(:mod:`arena_app.storage.tally_queries`). When that version changed (a vote excluded or restored by
``arena integrity``, a deleted vote, a vote committed late with a lower id), or the Elo parameters
changed, the category is rebuilt from scratch and the outcome says why. Versions are read *before* the
votes they describe, so a change that lands in between makes the stored version stale, never the tally.

What it cannot serve (the caller falls back to the full pass and says so): style control (per-vote
style covariates), cluster intervals (per-vote clusters), and sampling weights in the fit (the weighted
bootstrap resamples votes): ``--weights on``, or ``auto`` in a category where the tally counts votes with
a weight other than 1 (the same rule the full pass applies, without its scan of every battle).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.errors import storage_errors
from arena_app.services.leaderboard_votes import vote_selection
from arena_app.storage import leaderboard_queries as q
from arena_app.storage import tally_queries as tq
from arena_app.storage.db import session_scope
from leaderboard.compute import BattleData, ComputeParams
from leaderboard.data import IntArray, aggregate
from leaderboard.elo import online_elo

log = logging.getLogger("arena.leaderboard.tallies")


@dataclass(frozen=True)
class TalliedCategory:
    category: str
    data: BattleData
    votes: int  # counted votes in the table (self-battles left out, as the full read does)
    new_votes: int  # counted votes read this time
    rebuilt: str | None  # why the tally was built from every vote (None: updated from its last vote id)
    last_vote_id: int
    votes_key: str  # the category's counted votes: "count:id-hash"
    read_seconds: float
    weighted_votes: int  # counted votes drawn with a sampling weight other than 1


def incremental_unsupported(params: ComputeParams) -> str | None:
    """Why these parameters need the full pass (None: the tallies serve them)."""
    if params.style_control:
        return "style control needs every vote's style counts"
    if params.needs_clusters:
        return f"--ci {params.ci} needs every vote's {params.cluster}"
    if params.weights == "on":
        return "--weights on needs every vote's sampling weight"
    return None


def weights_needed(params: ComputeParams, t: TalliedCategory) -> str | None:
    """Why ``--weights auto`` makes this category a full pass (its votes carry sampling weights)."""
    if params.weights != "auto" or not t.weighted_votes:
        return None
    return (
        f"{t.weighted_votes:,} counted votes carry a sampling weight other than 1 (--weights auto fits them)"
    )


def elo_key(params: ComputeParams) -> str:
    return json.dumps({"k": params.k, "base": params.base, "scale": params.scale, "initial": params.initial})


def update_tallies(
    session_factory: sessionmaker[Session],
    categories: Sequence[str],
    params: ComputeParams,
    *,
    rebuild: bool = False,
) -> list[TalliedCategory]:
    """Bring the tallies of ``categories`` up to the newest vote (from scratch with ``rebuild``), store
    them, and return each category's rating input. Call it holding the recompute lease."""
    out: list[tuple[tq.Tally, int, str | None, float]] = []
    key = elo_key(params)
    with storage_errors(), session_scope(session_factory) as s:
        if s.get_bind().dialect.name == "postgresql":  # every query sees the same votes
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        reader = _Reader(s, params)
        newest = tq.max_vote_id(s)
        for cat in categories:
            t0 = time.perf_counter()
            tally = None if rebuild else tq.load_tally(s, cat)
            why = "rebuild asked for" if rebuild else _stale(reader, tally, key, newest)
            if why is not None or tally is None:
                tally, new = reader.build(cat, newest, key), -1
            else:
                new = reader.advance(tally, newest)
            out.append((tally, new, why, time.perf_counter() - t0))
    with storage_errors(), session_scope(session_factory) as s:
        for tally, _new, _why, _secs in out:
            if not tq.save_tally(s, tally):  # its ratings are still right for the votes it read
                log.warning(
                    "the %s tally was advanced by another process; this one is not saved", tally.category
                )
    return [_tallied(t, new, why, secs) for t, new, why, secs in out]


def _stale(reader: _Reader, t: tq.Tally | None, key: str, newest: int) -> str | None:
    if t is None:
        return "no tally yet"
    if t.elo_key != key:
        return "the online Elo parameters changed"
    if t.last_vote_id > newest:
        return "votes were deleted"
    if reader.version_key(t.last_vote_id) != t.votes_key:
        return f"counted votes up to id {t.last_vote_id} changed (excluded, restored, deleted or late)"
    return None


class _Reader:
    """The reads of one update, in one transaction; versions up to an id are read once."""

    def __init__(self, s: Session, params: ComputeParams) -> None:
        self.s = s
        self.params = params
        self._versions: dict[int, tuple[int, int]] = {}

    def version(self, up_to: int) -> tuple[int, int]:
        if up_to not in self._versions:
            self._versions[up_to] = tq.votes_version(self.s, 0, up_to)
        return self._versions[up_to]

    def version_key(self, up_to: int) -> str:
        count, h = self.version(up_to)
        return f"{count}:{h}"

    def build(self, category: str, newest: int, key: str) -> tq.Tally:
        """A tally of every counted vote up to ``newest`` (versions read before the votes)."""
        votes_key = self.version_key(newest)
        sel = replace(vote_selection(category), up_to_id=newest)
        count, h, weighted = tq.category_version(self.s, sel)
        t = tq.Tally(category, newest, votes_key, key, count, h, weighted)
        self._apply(t, q.counted_battle_rows(self.s, sel), fresh=True)
        return t

    def advance(self, t: tq.Tally, newest: int) -> int:
        """Add the counted votes after ``t.last_vote_id``; the number added."""
        if newest == t.last_vote_id:
            return 0
        old = self.version(t.last_vote_id)
        delta = tq.votes_version(self.s, t.last_vote_id, newest)  # before the votes it describes
        self._versions[newest] = (old[0] + delta[0], (old[1] + delta[1]))
        sel = replace(vote_selection(t.category), after_id=t.last_vote_id, up_to_id=newest)
        count, h, weighted = tq.category_version(self.s, sel)
        rows = q.counted_battle_rows(self.s, sel)
        self._apply(t, rows, fresh=False)
        t.last_vote_id, t.votes_key = newest, self.version_key(newest)
        t.vote_count, t.vote_hash = t.vote_count + count, t.vote_hash + h
        t.weighted_votes += weighted
        return len(rows.model_a)

    def _apply(self, t: tq.Tally, rows: q.BattleRows, *, fresh: bool) -> None:
        """Add ``rows`` (vote-id order) to the pair counts and run online Elo over them."""
        if not len(rows.model_a):
            return
        names = rows.models  # sorted: index order is name order, so lo < hi means model_i < model_j
        for (lo, hi), cell in _cells(rows.model_a, rows.model_b, rows.outcome, len(names)).items():
            pair = (names[lo], names[hi])
            have = t.cells.setdefault(pair, [0, 0, 0, 0])
            for k in range(4):
                have[k] += cell[k]
            t.changed_cells.add(pair)
        p = self.params
        start = None if fresh else [t.elo.get(n, float(p.initial)) for n in names]
        elo = online_elo(
            rows.model_a,
            rows.model_b,
            rows.outcome,
            len(names),
            k=p.k,
            base=p.base,
            scale=p.scale,
            initial=p.initial,
            start=start,
        )
        for name, rating in zip(names, elo.tolist(), strict=True):
            t.elo[name] = rating
            t.changed_elo.add(name)


def _cells(a: IntArray, b: IntArray, o: IntArray, m: int) -> dict[tuple[int, int], list[int]]:
    """Counts per (lo, hi) pair: [lo wins, hi wins, tie, tie (bothbad)]."""
    swap = a > b
    lo, hi = np.where(swap, b, a), np.where(swap, a, b)
    oc = np.where(o >= 2, o, np.where(swap, 1 - o, o))  # outcome seen from the lower index
    keys, counts = np.unique((lo * m + hi) * 4 + oc, return_counts=True)
    out: dict[tuple[int, int], list[int]] = {}
    for k, c in zip(keys.tolist(), counts.tolist(), strict=True):
        pair = divmod(k // 4, m)
        out.setdefault(pair, [0, 0, 0, 0])[k % 4] += c
    return out


def _tallied(t: tq.Tally, new: int, why: str | None, seconds: float) -> TalliedCategory:
    """The rating input of a tally: exactly the arrays the full read would give."""
    pairs = sorted(p for p, c in t.cells.items() if sum(c))
    models = sorted({n for p in pairs for n in p})
    idx = {n: i for i, n in enumerate(models)}
    lo = np.repeat([idx[p[0]] for p in pairs], 4).astype(np.int64)
    hi = np.repeat([idx[p[1]] for p in pairs], 4).astype(np.int64)
    outcome = np.tile(np.arange(4, dtype=np.int64), len(pairs))
    counts = np.array([c for p in pairs for c in t.cells[p]], dtype=np.float64)
    keep = counts > 0
    pc = aggregate(lo[keep], hi[keep], outcome[keep], len(models), counts[keep])
    bothbad = float(sum(t.cells[p][3] for p in pairs))
    elo = np.array([t.elo[n] for n in models], dtype=np.float64)
    data = BattleData(models, pc, bothbad=bothbad, elo=elo)
    votes = int(counts.sum())
    return TalliedCategory(
        t.category,
        data,
        votes,
        votes if new < 0 else new,
        why,
        t.last_vote_id,
        f"{t.vote_count}:{t.vote_hash}",
        seconds,
        t.weighted_votes,
    )
