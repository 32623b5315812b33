"""``arena leaderboard influence | judges``: how few votes change the ranking, and how much the ranking rests
on the heaviest voters (see docs/leaderboard.md, "Ranking fragility" and "Per-judge and per-prompt views").

Both read a battles file when one is given, else the database's counted votes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands
    from arena_app.services.leaderboard_influence import InfluenceOutcome
    from arena_app.services.leaderboard_judges import JudgesReport

SETTINGS = ("database_url",)  # without FILE the counted votes come from the database
FILE_FORMATS = ("csv", "json", "jsonl")
DOCS = "docs/leaderboard.md"


def _source_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        nargs="?",
        help="battles file (FastChat clean_battle JSON, JSON Lines, our CSV export); default: the database",
    )
    p.add_argument("--format", dest="fmt", choices=FILE_FORMATS, help="file format (default: from the name)")
    p.add_argument("--category", default="overall", help="category (default overall)")
    p.add_argument("--keep-named", action="store_true", help="a file: keep non-anonymous (named) battles")


def register_science(what: Subcommands) -> None:
    inf = add_command(
        what,
        "influence",
        settings=SETTINGS,
        help="how few counted votes change the ranking (verified by refits)",
        description="Find a small set of counted votes whose removal changes the #1 model (or the top-K "
        "order, or the order of two models): candidates ranked by the fitted model's influence "
        "approximation, every set verified by an exact refit. Prints how many votes and their share, "
        "the pairs and outcomes; from the database also the vote ids. Bradley-Terry, ties as half, "
        f"unweighted. Method and figures: {DOCS}, 'Ranking fragility'.",
    )
    _source_flags(inf)
    inf.add_argument(
        "--target",
        nargs="+",
        default=["top1"],
        metavar="T",
        help="top1 (default: the #1 model), topK (the order of the top K, e.g. top5) or pair MODEL_A,MODEL_B",
    )
    inf.add_argument(
        "--max-votes", type=int, metavar="N", help="largest set to look for (default 5%% of the votes)"
    )
    inf.add_argument(
        "--out",
        type=Path,
        metavar="F.json",
        help='write the set: groups {"model_a","model_b","winner","count"} (+ "vote_ids" from the database)',
    )
    inf.set_defaults(func=_influence)

    jd = add_command(
        what,
        "judges",
        settings=SETTINGS,
        help="votes per judge (or prompt) and the rating shift without the heaviest 1%%",
        description="The per-judge view: how votes are spread over judges (or prompts, --by conversation), "
        "the share of the heaviest, and how much the ratings move when the heaviest --fraction of them "
        f"are left out. See {DOCS}, 'Per-judge and per-prompt views'.",
    )
    _source_flags(jd)
    jd.add_argument(
        "--by",
        choices=("judge", "conversation"),
        default="judge",
        help="judge (database: client hash; file: 'judge') or conversation (database: the opening "
        "prompt; file: 'question_id')",
    )
    jd.add_argument(
        "--fraction", type=float, default=0.01, help="share of the heaviest to leave out (default 0.01)"
    )
    jd.set_defaults(func=_judges)


def _influence(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_influence import (
        TargetSpec,
        check_influence_out,
        influence_of_database,
        influence_of_file,
        write_influence,
    )
    from arena_app.services.operator import operator_database

    spec = TargetSpec.parse(args.target)  # a bad target is refused before anything is read
    if args.out:
        check_influence_out(args.out)
    if args.file is not None:
        out = influence_of_file(
            args.file,
            spec,
            fmt=args.fmt,
            category=args.category,
            keep_named=args.keep_named,
            max_votes=args.max_votes,
        )
    else:
        with operator_database(settings.database_url) as factory:
            out = influence_of_database(factory, spec, category=args.category, max_votes=args.max_votes)
    _print_influence(out)
    if args.out:
        write_influence(out, args.out)
        print(f"wrote {len(out.groups)} groups to {args.out}")
    return 0


def _print_influence(out: InfluenceOutcome) -> None:
    res = out.result
    print(
        f"{out.source}: {res.n_total:,} counted votes, {len(out.models)} models "
        f"(read {out.read_seconds:.1f} s, search {out.search_seconds:.1f} s, {res.refits} refits)"
    )
    print(out.line)
    if not res.found:
        return
    print(f"target {out.target}: {res.n_removed:,} votes ({res.share:.4%} of {res.n_total:,})")
    if res.predicted is not None:
        print(f"  first-order (AMIP) prediction for the driven pair: {res.predicted:,} votes")
    for g in sorted(out.groups, key=lambda g: (-g.count, g.model_a, g.model_b)):
        ids = ""
        if g.vote_ids is not None:
            shown = ", ".join(map(str, g.vote_ids[:8]))
            ids = f"  vote ids {shown}{', ...' if len(g.vote_ids) > 8 else ''}"
        print(f"  {g.count:6,} x {g.model_a} vs {g.model_b}, winner {g.winner}{ids}")


def _judges(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from arena_app.services.leaderboard_judges import judges_of_database, judges_of_file
    from arena_app.services.operator import operator_database

    if args.file is not None:
        report = judges_of_file(
            args.file,
            by=args.by,
            fraction=args.fraction,
            fmt=args.fmt,
            category=args.category,
            keep_named=args.keep_named,
        )
    else:
        with operator_database(settings.database_url) as factory:
            report = judges_of_database(factory, by=args.by, fraction=args.fraction, category=args.category)
    _print_judges(report)
    return 0


def _print_judges(r: JudgesReport) -> None:
    s = r.summary
    noun = r.noun
    print(f"{r.source}: {s.n_votes:,} counted votes from {s.n_clusters:,} {noun} ({r.seconds:.1f} s)")
    print(
        f"votes per {noun[:-1]}: mean {s.mean:.1f}, median {s.median:.0f}, p90 {s.p90:.0f}, p99 {s.p99:.0f}, "
        f"max {s.max:,}"
    )
    print(
        f"the top {s.top_fraction:.0%} ({s.top_count:,} {noun if s.top_count != 1 else noun[:-1]}) cast "
        f"{s.top_share:.1%} of the votes; "
        f"the top 10 cast {s.top10_share:.1%}"
    )
    print(f"  {'votes each':>10} {noun:>10} {'votes':>10}")
    for label, clusters, votes in s.buckets:
        print(f"  {label:>10} {clusters:>10,} {votes:>10,}")
    print(r.line())
