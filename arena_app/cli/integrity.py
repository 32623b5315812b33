"""``arena integrity scan | restore | report``: vote-integrity screening and the daily exclusion report (see
:mod:`arena_app.services.integrity`, :mod:`arena_app.services.integrity_report` and docs/leaderboard.md,
"Vote integrity"). ``report`` exits with status 3 when the last day's counted share fell too far."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands
    from arena_app.services.integrity import ScanOutcome

SETTINGS = ("database_url",)
REPORT_SETTINGS = ("database_url", "daily_vote_cap", "excluded_models")
ALARM_STATUS = 3  # `arena integrity report`: the counted share fell (0: fine, 1: an error)


def register(sub: Subcommands) -> None:
    group = add_command(
        sub, "integrity", settings=REPORT_SETTINGS, help="vote-integrity screening and report"
    )
    what = group.add_subparsers(dest="integrity_command", metavar="ACTION", required=True)
    scan = add_command(
        what,
        "scan",
        settings=SETTINGS,
        help="flag judges whose votes are unlikely under the current ratings",
        description="Score every judge (salted client hash) by how unlikely their counted votes are under "
        "the current style-controlled ratings (per-vote p-values combined per judge, corrected across "
        "judges) and print the flagged ones. --apply marks their votes excluded_reason=anomalous_judge "
        "(kept, never deleted; `arena integrity restore` undoes it); recompute the leaderboard after.",
    )
    scan.add_argument("--since", metavar="DATE", help="only score votes at or after this UTC time (ISO 8601)")
    scan.add_argument("--apply", action="store_true", help="mark the flagged judges' counted votes")
    scan.add_argument("--alpha", type=float, default=0.05, help="level after the correction (default 0.05)")
    scan.add_argument("--min-votes", type=int, default=5, help="judges with fewer votes are not screened")
    scan.add_argument(
        "--correction", choices=("bh", "bonferroni"), default="bh", help="across judges (default bh: FDR)"
    )
    scan.add_argument("--limit", type=int, default=50, help="flagged judges to print (default 50; 0 = all)")
    scan.set_defaults(func=_scan)
    restore = add_command(
        what, "restore", settings=SETTINGS, help="count again every vote marked anomalous_judge"
    )
    restore.set_defaults(func=_restore)
    report = add_command(
        what,
        "report",
        settings=REPORT_SETTINGS,
        help="votes cast, counted and excluded per day; exit 3 when the counted share fell",
        description="Per UTC day: anonymous votes cast, counted and excluded by reason (the stored reasons, "
        "and --daily-vote-cap / --excluded-models when given). Exits with status 3 when the last day's "
        "counted share is more than --margin below the 14 days before it.",
    )
    report.add_argument("--margin", type=float, default=0.10, help="share points (default 0.10)")
    report.add_argument("--days", type=int, default=15, help="days to print (default 15; 0 = all)")
    report.set_defaults(func=_report)


def _scan(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.export import parse_when
    from arena_app.services.integrity import scan_database
    from arena_app.services.operator import operator_database

    since = parse_when(args.since, "--since") if args.since else None
    with operator_database(settings.database_url) as factory:
        outcome = scan_database(
            factory,
            since=since,
            apply=args.apply,
            alpha=args.alpha,
            min_votes=args.min_votes,
            correction=args.correction,
        )
    _print_scan(outcome, None if args.limit <= 0 else args.limit)
    return 0


def _print_scan(out: ScanOutcome, limit: int | None) -> None:
    window = f" since {out.since.isoformat()}" if out.since else ""
    print(
        f"scanned {out.votes:,} counted votes{window} of {out.judges:,} judges ({out.screened:,} with enough "
        f"votes to screen); {len(out.flagged)} flagged at {out.correction} level {out.alpha}"
    )
    if out.flagged:
        print("judge            votes   p-value  adjusted  strongest test")
    for f in out.flagged[:limit]:
        test = f.strongest + (f" ({f.model})" if f.model else "")
        print(f"{f.judge[:16]} {f.votes:6d} {f.pvalue:9.2e} {f.adjusted:9.2e}  {test}")
    if limit is not None and len(out.flagged) > limit:
        print(f"... and {len(out.flagged) - limit} more (--limit 0 prints all)")
    if out.marked is not None:
        print(f"marked {out.marked:,} votes excluded_reason=anomalous_judge; recompute the leaderboard")
    elif out.flagged:
        print("nothing changed; --apply marks their votes")


def _restore(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.integrity import restore_judges
    from arena_app.services.operator import operator_database

    with operator_database(settings.database_url) as factory:
        restored = restore_judges(factory)
    print(f"restored {restored:,} votes marked anomalous_judge; recompute the leaderboard")
    return 0


def _report(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.integrity_report import integrity_report
    from arena_app.services.leaderboard_votes import VoteRules
    from arena_app.services.operator import operator_database

    with operator_database(settings.database_url) as factory:
        report = integrity_report(factory, margin=args.margin, rules=VoteRules.of(settings))
    days = report.days[-args.days :] if args.days > 0 else report.days
    print("day         cast   counted  share  " + "  ".join(report.reasons))
    for d in days:
        cells = "  ".join(f"{d.excluded.get(r, 0):>{len(r)}}" for r in report.reasons)
        print(f"{d.day} {d.cast:6d} {d.counted:9d} {d.share:6.1%}  {cells}")
    print(report.verdict())
    return ALARM_STATUS if report.alarm else 0
