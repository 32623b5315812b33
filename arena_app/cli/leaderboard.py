"""``arena leaderboard recompute | fit | show`` (see docs/leaderboard.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from arena_app.cli.leaderboard_flags import TtyProgress, add_compute_flags, compute_params
from arena_app.cli.leaderboard_fresh import register_fresh, run_recompute
from arena_app.cli.leaderboard_science import register_science
from arena_app.cli.settings_flags import add_command
from arena_app.settings import ArenaSettings

# The leaderboard service loads numpy, scipy and plotly: the handlers import it, so `arena --help` stays fast.
if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands
    from arena_app.services.leaderboard_service import FileFitOutcome, RecomputeOutcome, RecomputeParams

FILE_FORMATS = ("csv", "json", "jsonl")


# min_votes: printed and written tables leave out models with fewer votes (snapshots mark them preliminary)
RECOMPUTE_SETTINGS = ("database_url", "min_votes", "daily_vote_cap", "excluded_models")
FIT_SETTINGS = ("min_votes",)  # a battles file: no database
SHOW_SETTINGS = ("database_url",)  # the snapshot's own min_votes applies


def register(sub: Subcommands) -> None:
    lb = add_command(sub, "leaderboard", settings=RECOMPUTE_SETTINGS, help="compute and show the leaderboard")
    what = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    rc = add_command(
        what,
        "recompute",
        settings=RECOMPUTE_SETTINGS,
        help="compute from the database and store a snapshot",
        description="Read counted votes (anonymous battles, not excluded), compute Bradley-Terry "
        "ratings with intervals, online Elo and style control, store a snapshot per category "
        "and print the table.",
    )
    rc.add_argument(
        "--category",
        action="append",
        metavar="NAME",
        help="category to compute (repeatable; 'all' = every built-in category and stored tag; "
        "default overall)",
    )
    rc.add_argument("--no-online-elo", dest="online_elo", action="store_false", help="skip online Elo")
    rc.add_argument(
        "--incremental",
        action="store_true",
        help="read only the votes since the last recompute (stored pair counts and online Elo); options it "
        "cannot serve (style control, cluster intervals, sampling weights) fall back to the full pass",
    )
    add_compute_flags(rc, style_default=True, weights=True)
    rc.add_argument("--limit", type=int, default=40, help="rows to print (default 40; 0 = all)")
    rc.set_defaults(func=_recompute)

    fit = add_command(
        what,
        "fit",
        settings=FIT_SETTINGS,
        help="compute from a battles file (no database)",
        description="Fit a battles file: FastChat clean_battle JSON, JSON Lines, or the CSV "
        "from `arena export votes`. Non-anonymous rows are dropped unless --keep-named.",
    )
    fit.add_argument("file", type=Path, metavar="FILE")
    fit.add_argument(
        "--format", dest="fmt", choices=FILE_FORMATS, help="file format (default: from the name)"
    )
    fit.add_argument("--out", type=Path, metavar="FILE", help="write the table to a .csv or .json file")
    fit.add_argument(
        "--category", default="overall", help="category (overall, multi_turn, or a tag in the file)"
    )
    fit.add_argument("--keep-named", action="store_true", help="keep non-anonymous (named) battles")
    fit.add_argument("--limit", type=int, default=40, help="rows to print (default 40; 0 = all)")
    f = fit.add_argument_group("FastChat's filters (elo_analysis.py)")
    f.add_argument("--exclude-models", nargs="+", default=[], metavar="MODEL", help="drop battles of these")
    f.add_argument("--exclude-ties", action="store_true", help="drop ties and both-bad votes")
    f.add_argument("--langs", nargs="+", default=[], metavar="LANG", help="keep only these languages")
    f.add_argument(
        "--daily-vote-cap",
        type=_cap,
        metavar="N",
        help="keep each judge's first N votes of every UTC day (FastChat's --daily-vote-per-user)",
    )
    add_compute_flags(fit, style_default=False)
    fit.set_defaults(func=_fit)

    show = add_command(what, "show", settings=SHOW_SETTINGS, help="print the latest stored snapshot")
    show.add_argument("--category", default="overall")
    show.add_argument("--style-control", action="store_true", help="show the style-controlled ratings")
    show.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="also write the table to a .csv or .json file (style_rating/lower/upper with --style-control)",
    )
    show.add_argument("--limit", type=int, default=40, help="rows to print (default 40; 0 = all)")
    show.set_defaults(func=_show)
    register_science(what)
    register_fresh(what)


def _cap(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


@contextmanager
def _progress_line() -> Iterator[TtyProgress | None]:
    """A progress line on stderr when it is a terminal, erased afterwards."""
    tty = sys.stderr.isatty()
    try:
        yield TtyProgress() if tty else None
    finally:
        if tty:
            sys.stderr.write("\r\x1b[K")


def _limit(args: argparse.Namespace) -> int | None:
    return None if args.limit <= 0 else args.limit


def _recompute(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_service import RecomputeParams, VoteRules

    params = RecomputeParams(
        categories=tuple(args.category or ["overall"]),
        compute=compute_params(args, settings.min_votes),
        online_elo=args.online_elo,
        incremental=args.incremental,
        rules=VoteRules.of(settings),
    )
    with _progress_line() as progress:
        outcomes = run_recompute(settings, params, progress)
    unknown = outcomes[0].unknown_models if outcomes else ()
    if unknown:
        print(f"warning: --excluded-models names no stored model: {', '.join(unknown)}", file=sys.stderr)
    for out in outcomes:
        _print_outcome(out, params, _limit(args))
    return 0


def _print_outcome(out: RecomputeOutcome, params: RecomputeParams, limit: int | None) -> None:
    from arena_app.services.leaderboard_output import format_table, method_lines
    from arena_app.services.leaderboard_totals import describe_excluded

    res = out.result
    left_out = describe_excluded(out.excluded)
    if res is None:
        print(f"category {out.category}: no counted votes; no snapshot stored (excluded: {left_out})")
        return
    kept = "" if out.stored else " (the same table as before: nothing new stored)"
    new = f", {out.new_votes:,} new" if out.how == "incremental" and out.new_votes is not None else ""
    print(
        f"category {out.category}: {out.vote_count:,} votes{new}, {len(res.models)} models, "
        f"{res.params.ci} intervals, {out.how} pass, snapshot {out.snapshot_id}{kept}, {out.seconds:.2f} s"
    )
    print(f"votes counted: {out.vote_count:,}; excluded: {left_out}")
    if out.note:
        print(out.note)
    style = params.compute.style_control and res.style is not None
    print(format_table(res, style=style, min_votes=params.compute.min_votes, limit=limit))
    if res.style:
        coefs = ", ".join(f"{k} {v:+.3f}" for k, v in res.style.coefficients.items())
        print(f"style coefficients: {coefs}")
    print("\n".join(method_lines(res)))
    print()


def _fit(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_output import (
        check_out_path,
        format_table,
        method_lines,
        write_ratings,
    )
    from arena_app.services.leaderboard_service import FileFilters, fit_file

    if args.out:
        check_out_path(args.out)  # before the fit, not after it
    params = compute_params(args, settings.min_votes)
    filters = FileFilters(
        tuple(args.exclude_models), args.exclude_ties, tuple(args.langs), args.daily_vote_cap
    )
    with _progress_line() as progress:
        out = fit_file(
            args.file,
            params,
            fmt=args.fmt,
            category=args.category,
            keep_named=args.keep_named,
            filters=filters,
            progress=progress,
        )
    _print_fit_summary(args.file, out)
    res = out.result
    print(format_table(res, style=res.style is not None, min_votes=params.min_votes, limit=_limit(args)))
    if res.style:
        print("style coefficients: " + ", ".join(f"{k} {v:+.3f}" for k, v in res.style.coefficients.items()))
    print("\n".join(method_lines(res)))
    if args.out:
        n = write_ratings(out.result, args.out, min_votes=params.min_votes)
        print(f"wrote {n} rows to {args.out}")
    return 0


def _print_fit_summary(path: Path, out: FileFitOutcome) -> None:
    fb = out.battles
    print(
        f"{path}: {fb.rows_read:,} rows read, {len(fb.model_a):,} battles used, {len(fb.models)} models "
        f"(read {out.read_seconds:.1f} s, total {out.seconds:.1f} s)"
    )
    for reason, n in sorted(fb.dropped.items()):
        if n:
            print(f"  dropped {n:,} rows: {reason}")
    if out.unknown_excluded:
        print(
            f"  --exclude-models names no model of the file: {', '.join(out.unknown_excluded)}",
            file=sys.stderr,
        )
    if fb.unknown_winners:
        total = sum(fb.unknown_winners.values())
        examples = ", ".join(f"{w!r} x{n}" for w, n in fb.unknown_winners.most_common(5))
        print(
            f"  dropped {total:,} rows with an unknown winner (expected model_a, model_b, tie, "
            f"tie (bothbad)): {examples}",
            file=sys.stderr,
        )


def _show(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_output import (
        check_out_path,
        format_table,
        method_lines,
        write_ratings,
    )
    from arena_app.services.leaderboard_service import checked_category, latest_snapshot
    from arena_app.services.operator import operator_database

    checked_category(args.category)
    if args.out:
        check_out_path(args.out)
    with operator_database(settings.database_url) as session_factory:
        snap = latest_snapshot(session_factory, args.category)
    if snap is None:
        print(
            f"no snapshot for category {args.category!r}: run `arena leaderboard recompute`", file=sys.stderr
        )
        return 1
    res = snap.result
    if args.style_control and not res.style:
        print(
            "this snapshot has no style-controlled ratings: recompute with --style-control", file=sys.stderr
        )
        return 1
    print(
        f"category {snap.category}: {snap.vote_count:,} votes, snapshot {snap.id} of "
        f"{snap.created_at:%Y-%m-%d %H:%M:%S} UTC, params {snap.params.to_json()}"
    )
    min_votes = snap.params.compute.min_votes
    print(format_table(res, style=args.style_control, min_votes=min_votes, limit=_limit(args)))
    print("\n".join(method_lines(res)))
    if args.out:
        n = write_ratings(res, args.out, style=args.style_control, min_votes=min_votes)
        print(f"wrote {n} rows to {args.out}")
    return 0
