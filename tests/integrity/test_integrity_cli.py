"""``arena integrity scan | restore | report`` on both databases, with planted bots and a planted drop."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from arena_app.cli.main import main
from tests.integrity.seed import T0, insert_arena, insert_votes, judge_hash
from tests.leaderboard.integrity_sim import simulate_arena


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return [tuple(r) for r in result.all()] if result.returns_rows else []
    finally:
        engine.dispose()


def _rating_error(url: str, ar) -> float:
    """Mean absolute error (Elo points, both sides mean-centred) of the stored ratings against the truth,
    from a fresh recompute."""
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from arena_app.storage.db import make_engine, make_session_factory
    from leaderboard.compute import ComputeParams

    engine = make_engine(url)
    try:
        (out,) = recompute(make_session_factory(engine), RecomputeParams(compute=ComputeParams(rounds=2)))
    finally:
        engine.dispose()
    assert out.result is not None
    got = np.array(
        [out.result.rating[out.result.models.index(f"model-{i:02d}")] for i in range(len(ar.theta))]
    )
    truth = ar.theta * 400 / np.log(10)
    return float(np.mean(np.abs((got - got.mean()) - (truth - truth.mean()))))


@pytest.fixture
def planted(db_url: str):
    """40 honest judges and 3 bots (two always vote for their favourite, one for the longer answer)."""
    rng = np.random.default_rng(7)
    ar = simulate_arena(rng, models=8, honest=40, bots={"favourite": 2, "longer": 1}, votes=(80, 160))
    insert_arena(db_url, ar, rng)
    bots = {judge_hash(j) for j, k in enumerate(ar.kind) if k != "honest"}
    return db_url, ar, bots


def test_scan_finds_the_planted_bots_and_changes_nothing(planted, capsys) -> None:
    url, ar, bots = planted
    assert main(["integrity", "scan", "--database-url", url, "--limit", "0"]) == 0
    out = capsys.readouterr().out
    flagged = {line.split()[0] for line in out.splitlines() if line[:4].isdigit()}
    assert {b[:16] for b in bots} <= flagged, out  # every bot, printed with its votes and p-values
    assert len(flagged - {b[:16] for b in bots}) <= 1, out  # at most one honest judge (BH at 5%)
    assert f"scanned {len(ar.a):,} counted votes of {ar.n_judges} judges" in out
    assert "nothing changed; --apply marks their votes" in out
    assert _rows(url, "SELECT COUNT(*) FROM votes WHERE excluded_reason IS NOT NULL") == [(0,)]


def test_apply_marks_restore_reverses_and_the_leaderboard_shows_both(planted, capsys) -> None:
    url, ar, bots = planted
    _rows(url, "UPDATE votes SET excluded_reason = 'identity_leak' WHERE id % 97 = 0")  # another reason
    leaks = _rows(url, "SELECT COUNT(*) FROM votes WHERE excluded_reason = 'identity_leak'")[0][0]
    before = _rating_error(url, ar)
    assert main(["integrity", "scan", "--database-url", url, "--apply"]) == 0
    out = capsys.readouterr().out
    marked = _rows(
        url, "SELECT client_hash, COUNT(*) FROM votes WHERE excluded_reason = 'anomalous_judge' GROUP BY 1"
    )
    assert bots <= {h for h, _ in marked}
    total = sum(int(c) for _, c in marked)  # type: ignore[call-overload]
    assert f"marked {total:,} votes excluded_reason=anomalous_judge" in out
    assert _rows(url, "SELECT COUNT(*) FROM votes") == [(len(ar.a),)]  # kept, never deleted

    assert (
        main(["leaderboard", "recompute", "--database-url", url, "--rounds", "5", "--no-style-control"]) == 0
    )
    out = capsys.readouterr().out
    counted = len(ar.a) - total - leaks
    assert f"votes counted: {counted:,}; excluded: anomalous_judge {total:,}, identity_leak {leaks}" in out
    from arena_app.services.leaderboard_view import latest_view
    from arena_app.storage.db import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        view = latest_view(make_session_factory(engine))
    finally:
        engine.dispose()
    assert view.total_votes == len(ar.a) - total - leaks
    assert view.excluded == {"anomalous_judge": total, "identity_leak": leaks}
    assert _rating_error(url, ar) < before  # the ratings after --apply are closer to the truth

    assert main(["integrity", "restore", "--database-url", url]) == 0
    assert f"restored {total:,} votes marked anomalous_judge" in capsys.readouterr().out
    restored = _rows(url, "SELECT COUNT(*) FROM votes WHERE excluded_reason = 'anomalous_judge'")
    assert restored == [(0,)]
    assert _rows(url, "SELECT COUNT(*) FROM votes WHERE excluded_reason = 'identity_leak'") == [(leaks,)]


def test_scan_since_scores_only_newer_votes(planted, capsys) -> None:
    url, ar, bots = planted
    since = (T0 + timedelta(days=9)).date().isoformat()
    newer = _rows(url, f"SELECT COUNT(*) FROM votes WHERE created_at >= '{since}'")[0][0]
    assert main(["integrity", "scan", "--database-url", url, "--since", since, "--apply"]) == 0
    out = capsys.readouterr().out
    assert f"scanned {newer:,} counted votes since {since}T00:00:00+00:00" in out
    older = _rows(
        url, f"SELECT COUNT(*) FROM votes WHERE excluded_reason IS NOT NULL AND created_at < '{since}'"
    )
    assert older == [(0,)]  # votes before --since are never marked
    assert main(["integrity", "scan", "--database-url", url, "--since", "yesterday"]) == 1
    assert "invalid --since 'yesterday'" in capsys.readouterr().err


def _days(url: str, per_day: int, days: int, drop: float) -> None:
    """``per_day`` votes a day; on the last day a share ``drop`` of them is excluded (a captcha outage)."""
    rng = np.random.default_rng(3)
    n = per_day * days
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    o = rng.integers(0, 2, n)
    times = [T0 + timedelta(days=i // per_day, seconds=i % per_day) for i in range(n)]
    excluded: list[str | None] = [None] * n
    for i in range(n):
        if i % 20 == 0:
            excluded[i] = "identity_leak"  # 5% every day
        if i >= n - per_day and (i % per_day) < drop * per_day:
            excluded[i] = "anomalous_judge"
    engine = create_engine(url)
    try:
        insert_votes(
            engine,
            ["m0", "m1", "m2", "m3"],
            [f"j{i % 7}" for i in range(n)],
            a,
            b,
            o,
            times,
            excluded=excluded,
        )
    finally:
        engine.dispose()


def test_report_exits_3_on_a_planted_drop(db_url: str, capsys) -> None:
    _days(db_url, per_day=40, days=16, drop=0.5)
    assert main(["integrity", "report", "--database-url", db_url]) == 3
    out = capsys.readouterr().out
    last = (T0 + timedelta(days=15)).date().isoformat()
    assert f"{last}     40        19  47.5%" in out  # cast, counted, share; by reason below
    assert "anomalous_judge  identity_leak" in out
    assert "ALARM: last day" in out and "the 14 days before: 95.0%" in out
    assert main(["integrity", "report", "--database-url", db_url, "--margin", "0.6"]) == 0
    assert "ok: last day" in capsys.readouterr().out


def test_report_is_quiet_without_a_drop_and_counts_the_recompute_rules(db_url: str, capsys) -> None:
    _days(db_url, per_day=40, days=16, drop=0.0)
    assert main(["integrity", "report", "--database-url", db_url, "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "ok: last day" in out and len([r for r in out.splitlines() if r.startswith("2026-")]) == 2
    # a daily cap of 3 per judge (7 judges) leaves 21 of 40 a day: a visible, uniform drop, no alarm
    assert main(["integrity", "report", "--database-url", db_url, "--daily-vote-cap", "3"]) == 0
    out = capsys.readouterr().out
    assert "daily_vote_cap" in out and "identity_leak" in out


def test_report_on_an_empty_database(db_url: str, capsys) -> None:
    assert main(["integrity", "report", "--database-url", db_url]) == 0
    assert "no votes yet" in capsys.readouterr().out
