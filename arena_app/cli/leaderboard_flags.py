"""The computation flags of ``arena leaderboard recompute | fit`` and the progress line on a terminal."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy, scipy, plotly: loaded by the handlers only
    from arena_app.services.leaderboard_service import ComputeParams


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


DOCS = "docs/leaderboard.md"


def add_compute_flags(
    p: argparse.ArgumentParser, *, style_default: bool | None, weights: bool = False
) -> None:
    """Computation flags. ``--min-votes`` is the settings flag (ARENA_MIN_VOTES): models with fewer votes are
    left out of printed/written tables and marked preliminary in snapshots. ``weights``: offer
    ``--weights`` (the database records sampling weights; battles files do not)."""
    g = p.add_argument_group("computation")
    g.add_argument("--rounds", type=_positive_int, default=1000, help="bootstrap rounds (default 1000)")
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0; results are reproducible)")
    g.add_argument(
        "--ci",
        choices=("bootstrap", "sandwich", "cluster-bootstrap", "cluster-sandwich"),
        default="bootstrap",
        help="interval method: bootstrap percentiles (default), the closed-form sandwich, or their cluster "
        "versions (resample / sum the scores by --cluster: honest when one voter or prompt has many votes). "
        f"When to use which: {DOCS}, 'Intervals under correlated voters'",
    )
    g.add_argument(
        "--cluster",
        choices=("judge", "conversation"),
        help="what a cluster is for --ci cluster-*: the voter (database: client hash; file: 'judge' column) "
        "or the prompt (database: the battle's opening prompt; file: 'question_id'); reads every vote",
    )
    g.add_argument(
        "--ties",
        choices=("half", "davidson"),
        default="half",
        help="ties as half a win (default, FastChat's convention) or modelled by the Davidson model, whose "
        f"tie parameter is reported ({DOCS}, 'Ties modelled')",
    )
    if weights:
        g.add_argument(
            "--weights",
            choices=("auto", "on", "off"),
            default="auto",
            help="fit with each battle's inverse-propensity sampling weight: auto (default) when some "
            "weight differs from 1 (battles drawn by weighted or active sampling), on, or off "
            f"({DOCS}, 'Active sampling')",
        )
    g.add_argument(
        "--fragility",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also find how few votes change the #1 model (verified; stored and shown with the table; "
        f"see {DOCS}, 'Ranking fragility')",
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


def compute_params(args: argparse.Namespace, min_votes: int) -> ComputeParams:
    """The parameters the computation flags ask for (``min_votes`` is the setting)."""
    from arena_app.services.leaderboard_service import ComputeParams

    anchor_model, anchor_rating = args.anchor if args.anchor else (None, 1000.0)
    return ComputeParams(
        rounds=args.rounds,
        seed=args.seed,
        ci=args.ci,
        cluster=args.cluster,
        ties=args.ties,
        weights=getattr(args, "weights", "auto"),
        fragility=args.fragility,
        anchor_model=anchor_model,
        anchor_rating=anchor_rating,
        style_control=bool(getattr(args, "style_control", False)),
        style_ci=getattr(args, "style_ci", "sandwich"),
        style_rounds=min(args.rounds, 100) if args.rounds else 100,
        min_votes=min_votes,
        threads=max(1, args.threads),
        k=args.k,
    )


class TtyProgress:
    """Progress of a computation on stderr, redrawn at most five times a second; only used on a terminal."""

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
