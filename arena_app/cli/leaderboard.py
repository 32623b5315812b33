"""``arena leaderboard recompute | fit | show`` (see docs/leaderboard.md)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from arena_app.settings import ArenaSettings

FILE_FORMATS = ("csv", "json", "jsonl")


def _anchor(text: str) -> tuple[str, float]:
    model, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = float("nan")
    if not sep or not model or rating != rating:
        raise argparse.ArgumentTypeError(
            f"expected MODEL=RATING, e.g. mixtral-8x7b-instruct-v0.1=1114, got {text!r}"
        )
    return model, rating


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _compute_flags(p: argparse.ArgumentParser, *, style_default: bool | None) -> None:
    """Computation flags. ``--min-votes`` is the settings flag (ARENA_MIN_VOTES): models with fewer votes are
    left out of printed/written tables and marked preliminary in snapshots."""
    g = p.add_argument_group("computation")
    g.add_argument("--rounds", type=_positive_int, default=1000, help="bootstrap rounds (default 1000)")
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0; results are reproducible)")
    g.add_argument(
        "--ci",
        choices=("bootstrap", "sandwich"),
        default="bootstrap",
        help="interval method: bootstrap percentiles (default) or the closed-form sandwich",
    )
    g.add_argument(
        "--anchor",
        type=_anchor,
        metavar="MODEL=RATING",
        help="identify ratings by fixing one model (e.g. mixtral-8x7b-instruct-v0.1=1114); "
        "default: mean rating 1000",
    )
    g.add_argument("--threads", type=int, default=2, help="bootstrap worker threads (default 2)")
    g.add_argument("--k", type=float, default=4.0, help="online Elo K factor (default 4)")
    if style_default is not None:
        g.add_argument(
            "--style-control",
            action=argparse.BooleanOptionalAction,
            default=style_default,
            help="also fit style-controlled ratings (length, headers, lists, bold)",
        )
        g.add_argument(
            "--style-ci",
            choices=("sandwich", "bootstrap"),
            default="sandwich",
            help="interval method for style control (default sandwich; bootstrap is slower)",
        )


def register(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    lb = sub.add_parser("leaderboard", parents=parents, help="compute and show the leaderboard")
    what = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    rc = what.add_parser(
        "recompute",
        parents=parents,
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
    _compute_flags(rc, style_default=True)
    rc.add_argument("--limit", type=int, default=40, help="rows to print (default 40; 0 = all)")
    rc.set_defaults(func=_recompute)

    fit = what.add_parser(
        "fit",
        parents=parents,
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
    _compute_flags(fit, style_default=None)
    fit.set_defaults(func=_fit)

    show = what.add_parser("show", parents=parents, help="print the latest stored snapshot")
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


class _TtyProgress:
    def __init__(self) -> None:
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and done != total:
            return
        self._last = now
        pct = f" {100 * done / total:3.0f}%" if total else ""
        sys.stderr.write(f"\r\x1b[K{stage}:{pct} ({done}/{total})")
        sys.stderr.flush()


def _params(args: argparse.Namespace, settings: ArenaSettings) -> Any:
    from leaderboard.compute import ComputeParams

    anchor_model, anchor_rating = args.anchor if args.anchor else (None, 1000.0)
    return ComputeParams(
        rounds=args.rounds,
        seed=args.seed,
        ci=args.ci,
        anchor_model=anchor_model,
        anchor_rating=anchor_rating,
        style_control=bool(getattr(args, "style_control", False)),
        style_ci=getattr(args, "style_ci", "sandwich"),
        style_rounds=min(args.rounds, 100) if args.rounds else 100,
        min_votes=settings.min_votes,
        threads=max(1, args.threads),
        k=args.k,
    )


def _limit(args: argparse.Namespace) -> int | None:
    return None if args.limit <= 0 else args.limit


def _recompute(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_output import format_table
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from arena_app.storage import migrate
    from arena_app.storage.db import database_errors, make_engine, make_session_factory

    params = RecomputeParams(
        categories=tuple(args.category or ["overall"]),
        compute=_params(args, settings),
        online_elo=args.online_elo,
    )
    url = settings.database_url
    engine = make_engine(url)
    tty = sys.stderr.isatty()
    try:
        migrate.require_current_schema(url)
        with database_errors(url):
            outcomes = recompute(
                make_session_factory(engine), params, progress=_TtyProgress() if tty else None
            )
    finally:
        engine.dispose()
        if tty:
            sys.stderr.write("\r\x1b[K")
    for out in outcomes:
        res = out.result
        if res is None:
            print(f"category {out.category}: no counted votes; no snapshot stored")
            continue
        print(
            f"category {out.category}: {out.vote_count:,} votes, {len(res.models)} models, "
            f"{res.params.ci} intervals, snapshot {out.snapshot_id}, {out.seconds:.1f} s"
        )
        print(
            format_table(
                res,
                style=params.compute.style_control and res.style is not None,
                min_votes=params.compute.min_votes,
                limit=_limit(args),
            )
        )
        if res.style:
            coefs = ", ".join(f"{k} {v:+.3f}" for k, v in res.style.coefficients.items())
            print(f"style coefficients: {coefs}")
        print()
    return 0


def _fit(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_output import check_out_path, format_table, write_ratings
    from arena_app.services.leaderboard_service import fit_file

    if args.out:
        check_out_path(args.out)  # before the fit, not after it
    params = _params(args, settings)
    tty = sys.stderr.isatty()
    try:
        out = fit_file(
            args.file,
            params,
            fmt=args.fmt,
            category=args.category,
            keep_named=args.keep_named,
            progress=_TtyProgress() if tty else None,
        )
    finally:
        if tty:
            sys.stderr.write("\r\x1b[K")
    fb = out.battles
    used = len(fb.model_a)
    print(
        f"{args.file}: {fb.rows_read:,} rows read, {used:,} battles used, {len(fb.models)} models "
        f"(read {out.read_seconds:.1f} s, total {out.seconds:.1f} s)"
    )
    for reason, n in sorted(fb.dropped.items()):
        if n:
            print(f"  dropped {n:,} rows: {reason}")
    if fb.unknown_winners:
        total = sum(fb.unknown_winners.values())
        examples = ", ".join(f"{w!r} x{n}" for w, n in fb.unknown_winners.most_common(5))
        print(
            f"  dropped {total:,} rows with an unknown winner (expected model_a, model_b, tie, "
            f"tie (bothbad)): {examples}",
            file=sys.stderr,
        )
    print(format_table(out.result, min_votes=params.min_votes, limit=_limit(args)))
    if args.out:
        n = write_ratings(out.result, args.out, min_votes=params.min_votes)
        print(f"wrote {n} rows to {args.out}")
    return 0


def _show(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_output import check_out_path, format_table, write_ratings
    from arena_app.services.leaderboard_service import latest_snapshot
    from arena_app.services.leaderboard_votes import checked_category
    from arena_app.storage import migrate
    from arena_app.storage.db import database_errors, make_engine, make_session_factory

    checked_category(args.category)
    if args.out:
        check_out_path(args.out)
    url = settings.database_url
    engine = make_engine(url)
    try:
        migrate.require_current_schema(url)
        with database_errors(url):
            snap = latest_snapshot(make_session_factory(engine), args.category)
    finally:
        engine.dispose()
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
    if args.out:
        n = write_ratings(res, args.out, style=args.style_control, min_votes=min_votes)
        print(f"wrote {n} rows to {args.out}")
    return 0
