"""The periodic leaderboard refresh of ``arena serve --recompute-every``: every category, style control first.

The rule: recompute every category with style control; if that fails (say the style fit cannot be done on
these votes) recompute them without it, so the plain ratings never go stale because of the style fit. A
failed round is logged and the next one runs on schedule; the web app is never affected.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.leaderboard_service import RecomputeOutcome, RecomputeParams, recompute
from arena_app.services.leaderboard_votes import ALL_CATEGORIES, NO_RULES, VoteRules
from leaderboard.compute import ComputeParams

log = logging.getLogger("arena.leaderboard.refresh")

Recompute = Callable[[sessionmaker[Session], RecomputeParams], list[RecomputeOutcome]]


def _recompute(session_factory: sessionmaker[Session], params: RecomputeParams) -> list[RecomputeOutcome]:
    return recompute(session_factory, params)


class LeaderboardRefresher:
    """Recomputes and stores a snapshot of every category: :meth:`run_once`, or :meth:`start` a thread."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        min_votes: int = 0,
        rules: VoteRules = NO_RULES,
        recompute: Recompute = _recompute,
    ) -> None:
        self._session_factory = session_factory
        self._recompute = recompute
        styled = RecomputeParams(
            categories=(ALL_CATEGORIES,),
            compute=ComputeParams(style_control=True, min_votes=min_votes, fragility=True),
            rules=rules,
        )
        #: tried in this order; the first that succeeds ends the round
        self.attempts = (styled, replace(styled, compute=replace(styled.compute, style_control=False)))

    def run_once(self) -> list[RecomputeOutcome] | None:
        """One round; the outcomes of the attempt that succeeded, or None when every attempt failed."""
        for params in self.attempts:
            try:
                outcomes = self._recompute(self._session_factory, params)
            except Exception:  # a background job: log it with the traceback and try the next attempt
                log.exception(
                    "periodic leaderboard recompute (style control %s) failed",
                    "on" if params.compute.style_control else "off",
                )
                continue
            log.info(
                "leaderboard recomputed: %s", ", ".join(f"{o.category}={o.vote_count}" for o in outcomes)
            )
            if outcomes and outcomes[0].unknown_models:
                log.warning(
                    "excluded models that no stored model has: %s", ", ".join(outcomes[0].unknown_models)
                )
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
