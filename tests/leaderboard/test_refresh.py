"""The periodic refresh of `arena serve --recompute-every`: style control first, plain ratings if it fails."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from arena_app.services.leaderboard_refresh import LeaderboardRefresher
from arena_app.services.leaderboard_service import latest_view
from arena_app.storage.db import make_engine, make_session_factory
from tests.leaderboard.seed import insert_battles, simulate_battles


def test_a_round_stores_style_controlled_snapshots_of_every_category(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    insert_battles(engine, simulate_battles(300, 4, seed=2))
    factory = make_session_factory(engine)
    try:
        refresher = LeaderboardRefresher(factory, min_votes=50)
        outcomes = refresher.run_once()
        assert outcomes is not None
        assert [o.category for o in outcomes] == ["overall", "multi_turn", "long_prompt", "code"]
        view = latest_view(factory, "code", style_control=True)
        assert view.rows and view.params is not None and view.params.compute.min_votes == 50
        assert view.params.compute.style_control and view.params.category == "code"
    finally:
        engine.dispose()


def test_when_the_style_fit_fails_the_plain_ratings_are_still_refreshed(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(sqlite_url)
    insert_battles(engine, simulate_battles(300, 4, seed=2))
    with engine.begin() as conn:  # SQLite keeps text in an integer column: only the style read trips on it
        conn.execute(text("UPDATE conversations SET header_count = 'lots' WHERE id = 1"))
    factory = make_session_factory(engine)
    try:
        with caplog.at_level(logging.INFO, logger="arena.leaderboard.refresh"):
            outcomes = LeaderboardRefresher(factory).run_once()
        assert outcomes is not None and outcomes[0].result is not None
        assert outcomes[0].result.style is None  # the plain attempt
        failed = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(failed) == 1 and "style control on" in failed[0].getMessage() and failed[0].exc_info
        assert "leaderboard recomputed: overall=" in caplog.text
        view = latest_view(factory)
        assert view.rows and view.created_at is not None
        assert "no style-controlled ratings" in (latest_view(factory, style_control=True).message or "")
    finally:
        engine.dispose()


def test_a_round_that_cannot_reach_the_database_logs_and_returns_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/x", connect_args={"connect_timeout": 3})
    try:
        with caplog.at_level(logging.ERROR, logger="arena.leaderboard.refresh"):
            assert LeaderboardRefresher(make_session_factory(engine)).run_once() is None
        assert [r.getMessage() for r in caplog.records] == [
            "periodic leaderboard recompute failed: cannot take the recompute lease"
        ]
    finally:
        engine.dispose()
