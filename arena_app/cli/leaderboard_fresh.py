"""``arena leaderboard rebuild | prune``: rebuild the incremental tallies from every vote, and remove stored
snapshots identical to the one before them (see docs/leaderboard.md, "Keeping the leaderboard fresh").

Also the recompute runner that ``arena leaderboard recompute`` shares: an incremental recompute or a
rebuild holds the recompute lease, as the refresh of ``arena serve`` does.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from arena_app.cli.leaderboard_flags import TtyProgress
from arena_app.cli.settings_flags import add_command
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands
    from arena_app.services.leaderboard_service import RecomputeOutcome, RecomputeParams

SETTINGS = ("database_url", "min_votes")


def register_fresh(what: Subcommands) -> None:
    rb = add_command(
        what,
        "rebuild",
        settings=SETTINGS,
        help="rebuild the incremental pair counts and online Elo from every vote, then recompute",
        description="Forget the stored pair counts and online Elo of the incremental recompute, build them "
        "again from every counted vote, and recompute (Bradley-Terry, 1000 bootstrap rounds, online Elo; "
        "a snapshot only where the table changed). The tables equal those of the incremental path.",
    )
    rb.add_argument("--category", action="append", metavar="NAME", help="category (repeatable; default all)")
    rb.set_defaults(func=_rebuild)
    pr = add_command(
        what,
        "prune",
        settings=("database_url",),
        help="delete stored snapshots whose table equals the previous snapshot's",
        description="Keep every snapshot that changed the table; delete the ones identical to the snapshot "
        "before them (of the same category and kind).",
    )
    pr.add_argument("--category", action="append", metavar="NAME", help="category (repeatable; default all)")
    pr.set_defaults(func=_prune)


def run_recompute(
    settings: ArenaSettings, params: RecomputeParams, progress: TtyProgress | None
) -> list[RecomputeOutcome]:
    """Recompute; incremental runs and rebuilds under the recompute lease."""
    from arena_app.services.leaderboard_lease import RecomputeLease
    from arena_app.services.leaderboard_service import recompute
    from arena_app.services.operator import operator_database

    with operator_database(settings.database_url) as session_factory:
        if not (params.incremental or params.rebuild):
            return recompute(session_factory, params, progress=progress)
        with RecomputeLease(session_factory).held():
            return recompute(session_factory, params, progress=progress)


def _rebuild(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_service import ComputeParams, RecomputeParams

    params = RecomputeParams(
        categories=tuple(args.category or ["all"]),
        compute=ComputeParams(min_votes=settings.min_votes, fragility=True),
        rebuild=True,
    )
    for out in run_recompute(settings, params, None):
        kept = "changed: snapshot stored" if out.stored else "the same table as before: nothing stored"
        if out.result is None:
            kept = "no counted votes"
        print(f"category {out.category}: {out.vote_count:,} votes, {out.how}; {kept} ({out.seconds:.2f} s)")
        if out.note and out.how != "rebuilt":
            print(out.note)
    return 0


def _prune(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_snapshots import prune_snapshots
    from arena_app.services.operator import operator_database

    with operator_database(settings.database_url) as session_factory:
        removed = prune_snapshots(session_factory, args.category)
    for category, n in removed.items():
        print(f"category {category}: {n} identical snapshot(s) deleted")
    return 0
