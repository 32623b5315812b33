"""The periodic leaderboard refresh of ``arena serve`` (``--recompute-every``, default 60 s): every
category, only when its counted votes changed, by one replica at a time.

Each round takes the recompute lease (:mod:`arena_app.services.leaderboard_lease`); a replica that does not
get it skips the round, so of several replicas on one database exactly one recomputes at a time. The plain
ratings come from the incremental tallies (:mod:`arena_app.services.leaderboard_tallies`: only the new
votes are read); style control needs every vote, so it is a full pass on its own, slower schedule
(``--style-recompute-every``, default an hour). If the style pass fails (say the style fit cannot be done on
these votes) the plain ratings are recomputed in the same round, so they never go stale because of it. A
category whose votes did not change is not recomputed, and a recompute that gives the newest snapshot's
table again stores nothing (:mod:`arena_app.services.leaderboard_snapshots`). A failed round is logged and
the next one runs on schedule; the web app is never affected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.leaderboard_lease import RecomputeLease
from arena_app.services.leaderboard_service import RecomputeOutcome, RecomputeParams, recompute
from arena_app.services.leaderboard_votes import ALL_CATEGORIES, NO_RULES, VoteRules
from leaderboard.compute import ComputeParams

log = logging.getLogger("arena.leaderboard.refresh")

Recompute = Callable[[sessionmaker[Session], RecomputeParams], list[RecomputeOutcome]]


def _recompute(session_factory: sessionmaker[Session], params: RecomputeParams) -> list[RecomputeOutcome]:
    return recompute(session_factory, params)


class LeaderboardRefresher:
    """Recomputes what changed in every category: :meth:`run_once`, or :meth:`start` a thread."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        min_votes: int = 0,
        style_every: float = 3600.0,
        rules: VoteRules = NO_RULES,
        lease: RecomputeLease | None = None,
        recompute: Recompute = _recompute,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session_factory = session_factory
        self._recompute = recompute
        self._clock = clock
        self.lease = lease or RecomputeLease(session_factory)
        self.style_every = style_every
        self.plain = RecomputeParams(
            categories=(ALL_CATEGORIES,),
            compute=ComputeParams(style_control=False, min_votes=min_votes, fragility=True),
            incremental=True,
            only_if_changed=True,
            rules=rules,  # a daily cap or excluded models need the full pass (the outcome's note says so)
        )
        self.styled = replace(
            self.plain, compute=replace(self.plain.compute, style_control=True), incremental=False
        )
        self._style_done: float | None = None  # clock() of the last style pass that succeeded

    @property
    def attempts(self) -> tuple[RecomputeParams, ...]:
        """What this round tries, in order; the first that succeeds ends the round."""
        due = self.style_every > 0 and (
            self._style_done is None or self._clock() - self._style_done >= self.style_every
        )
        return (self.styled, self.plain) if due else (self.plain,)

    def run_once(self) -> list[RecomputeOutcome] | None:
        """One round: the outcomes of the attempt that succeeded; [] when another process holds the
        lease; None when every attempt failed."""
        try:
            if not self.lease.acquire():
                log.debug("leaderboard recompute skipped: another replica holds the lease")
                return []
        except Exception:  # a background job: log it with the traceback, try again next round
            log.exception("periodic leaderboard recompute failed: cannot take the recompute lease")
            return None
        try:
            return self._round()
        finally:
            try:
                self.lease.release()
            except Exception:  # it expires by itself
                log.warning("could not give the recompute lease back (it expires by itself)")

    def _round(self) -> list[RecomputeOutcome] | None:
        for params in self.attempts:
            try:
                outcomes = self._recompute(self._session_factory, params)
            except Exception:  # a background job: log it with the traceback and try the next attempt
                log.exception(
                    "periodic leaderboard recompute (style control %s) failed",
                    "on" if params.compute.style_control else "off",
                )
                continue
            if params.compute.style_control:
                self._style_done = self._clock()
            _log_round(outcomes)
            return outcomes
        return None

    def run_every(self, seconds: float, stop: threading.Event) -> None:
        """A round now, then one every ``seconds`` until ``stop`` is set."""
        while not stop.is_set():
            self.run_once()
            stop.wait(seconds)

    def start(self, seconds: float) -> threading.Event:
        """Run :meth:`run_every` on a daemon thread; set the returned event to stop it after its round."""
        stop = threading.Event()
        threading.Thread(
            target=self.run_every, args=(seconds, stop), name="leaderboard-refresh", daemon=True
        ).start()
        return stop


def _log_round(outcomes: list[RecomputeOutcome]) -> None:
    if outcomes and outcomes[0].unknown_models:
        log.warning("excluded models that no stored model has: %s", ", ".join(outcomes[0].unknown_models))
    for o in outcomes:
        if o.note:
            log.info("leaderboard %s: %s", o.category, o.note)
    stored = [o for o in outcomes if o.stored]
    level = logging.INFO if stored else logging.DEBUG
    log.log(
        level,
        "leaderboard recomputed: %s",
        ", ".join(f"{o.category}={o.vote_count} ({o.how}{'' if o.stored else ', kept'})" for o in outcomes),
    )
