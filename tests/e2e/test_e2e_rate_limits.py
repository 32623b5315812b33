"""Rate limits with two app replicas on one PostgreSQL database, through the real Gradio queue API.

Two app instances (each its own engine, registry, Gradio server and port, as two ``arena serve`` behind
a balancer) share one PostgreSQL database and one salt. One client address alternating between them gets
one budget; its refused battles and votes store nothing and show a ⚠️ status saying when it may
continue; another address (X-Forwarded-For from a trusted proxy) is served meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from tests.e2e.harness import RunningApp, launch_app
from tests.e2e.helpers import STATUS, marker

SETTINGS = {
    "rate_limit_battles": "3/hour",
    "rate_limit_votes": "2/hour",
    "client_id_salt": "replicas-share-this-salt",
    "trusted_proxies": ["127.0.0.1"],
}


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[RunningApp, RunningApp]]:
    with (
        launch_app(tmp_path / "a", database_url=postgres_url, **SETTINGS) as a,
        launch_app(tmp_path / "b", database_url=postgres_url, **SETTINGS) as b,
    ):
        yield a, b


def _client(app: RunningApp, address: str) -> Client:
    return Client(app.url, verbose=False, headers={"X-Forwarded-For": address})


def _count(app: RunningApp, table: str) -> int:
    return int(app.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])


def test_two_replicas_share_one_budget_and_refusals_store_nothing(
    replicas: tuple[RunningApp, RunningApp],
) -> None:
    a, b = replicas
    mk = marker()
    # one user per replica and session, all from one address: a, b, a fit the budget of 3
    users = [_client(app, "203.0.113.7") for app in (a, b, a)]
    for n, user in enumerate(users):
        out = user.predict(f"battle {n} {mk}", api_name="/battle_send")
        assert not out[STATUS].startswith("⚠️"), out[STATUS]
    assert _count(a, "battles") == 3

    for app in (b, a):  # the fourth, on either replica
        refused = _client(app, "203.0.113.7").predict(f"one too many {mk}", api_name="/battle_send")
        status = refused[STATUS]
        assert status.startswith("⚠️ You reached the limit of 3 battles per hour; you can start another at")
        box = refused[0]
        assert (box.get("value") if isinstance(box, dict) else box) == f"one too many {mk}"  # kept in the box
    assert _count(b, "battles") == 3 and _count(b, "conversations") == 6
    assert _count(b, "messages") == 3 * 2 * 2  # 3 battles x 2 sides x (question, answer)

    # another address behind the same proxy is served meanwhile, on both replicas
    for app in (a, b):
        other = _client(app, "198.51.100.9").predict(f"someone else {mk}", api_name="/battle_send")
        assert not other[STATUS].startswith("⚠️"), other[STATUS]

    # votes: 2 per hour for the address, whichever replica and session casts them
    assert "vote was recorded" in users[0].predict(api_name="/battle_vote_a")[STATUS]
    assert "vote was recorded" in users[1].predict(api_name="/battle_vote_tie")[STATUS]
    refused_vote = users[2].predict(api_name="/battle_vote_b")[STATUS]
    assert refused_vote.startswith("⚠️ You reached the limit of 2 votes per hour; you can vote again at")
    assert _count(a, "votes") == 2
    outcomes = sorted(r["outcome"] for r in a.rows("SELECT outcome FROM votes"))
    assert outcomes == ["model_a", "tie"]
