"""build_app smoke test through the real Gradio server (in-process) and gradio_client.

Checks what reaches the browser: the page config and API schema carry no battle model names, API keys or
endpoint URLs; the anonymous battle's event responses carry no model names until the vote; raw HTML in user
and model text arrives escaped; a second vote is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

from arena_app.providers.registry import ModelRegistry
from arena_app.services.app_services import AppServices, create_services
from arena_app.settings import load_settings
from tests.fakes.openai_server import OpenAIFakeServer, RecordedRequest, Reply

SECRET = "sk-very-secret-key-123"
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


def _reply(req: RecordedRequest) -> Reply:
    body = req.body if isinstance(req.body, dict) else {}
    if body.get("model") == "zorblax-upstream":
        return Reply.text("One answer " + XSS)
    return Reply.text("Other answer **bold**")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, AppServices, OpenAIFakeServer]]:
    from arena_app.storage.migrate import upgrade
    from arena_app.ui.app import LAUNCH_KWARGS, build_app

    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'arena.db'}"
    upgrade(url)
    with OpenAIFakeServer(_reply) as srv:
        common = {"api_type": "openai", "api_base": srv.base_url, "api_key": SECRET, "anony_only": True}
        registry = ModelRegistry.from_mapping(
            {
                "zorblax-9000": {**common, "model_name": "zorblax-upstream", "organization": "Zorbcorp"},
                "quuxmodel-7b": {**common, "model_name": "quux-upstream", "organization": "Quuxlabs"},
                "visible-chat": {**common, "anony_only": False, "battle": False, "model_name": "vis"},
            }
        )
        services = create_services(
            load_settings(database_url=url, client_id_salt="s"), registry, rng=np.random.default_rng(0)
        )
        demo = build_app(services)
        demo.queue(default_concurrency_limit=8)
        # as `arena serve` does: uvicorn must not trust X-Forwarded-For from anyone but --trusted-proxies
        old_allow = os.environ.get("FORWARDED_ALLOW_IPS")
        os.environ["FORWARDED_ALLOW_IPS"] = ""
        demo.launch(
            prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **LAUNCH_KWARGS
        )
        try:
            yield demo, services, srv
        finally:
            demo.close()
            services.close()
            if old_allow is None:
                os.environ.pop("FORWARDED_ALLOW_IPS", None)
            else:
                os.environ["FORWARDED_ALLOW_IPS"] = old_allow


HIDDEN = ("zorblax", "quuxmodel", "zorbcorp", "quuxlabs", "quux-upstream", SECRET)


def test_page_config_and_api_schema_leak_nothing(app) -> None:
    demo, _services, srv = app
    base = demo.local_url
    for path in ("config", "gradio_api/info", ""):
        text = httpx.get(base + path, timeout=10).text.lower()
        for word in HIDDEN:
            assert word.lower() not in text, (path, word)
        assert f":{srv.port}" not in text  # the upstream endpoint URL (its port is unique)
    info = httpx.get(base + "gradio_api/info", timeout=10).json()
    named = set(info["named_endpoints"])
    assert "/battle_send" in named and "/battle_vote_a" in named
    assert not info["unnamed_endpoints"], "internal events must be private"
    for elem_id in (
        "battle-input",
        "battle-send",
        "battle-vote-a",
        "battle-chatbot-b",
        "lb-table",
        "chat-flag",
    ):
        assert elem_id in httpx.get(base + "config", timeout=10).text


def test_battle_through_gradio_client(app) -> None:
    from gradio_client import Client

    demo, services, _srv = app
    # a spoofed X-Forwarded-For from an untrusted peer must not change the stored client hash
    client = Client(demo.local_url, verbose=False, headers={"X-Forwarded-For": "6.6.6.6"})
    job = client.submit("hello " + XSS, api_name="/battle_send")
    outputs = list(job)  # every streamed update
    final = job.result()
    for update in [*outputs, final]:
        blob = repr(update).lower()
        for word in HIDDEN[:5]:
            assert word not in blob
    blob = repr(final)
    # raw HTML arrives as text: no tag survives, the payload is visible as escaped characters
    assert "<script" not in blob and "<img" not in blob
    assert "&lt;script&gt;" in blob and "&lt;img" in blob
    assert "<strong>bold</strong>" in blob

    voted = client.predict(api_name="/battle_vote_b")
    assert "zorblax-9000" in repr(voted) and "quuxmodel-7b" in repr(voted)
    again = client.predict(api_name="/battle_vote_a")
    assert "already voted" in repr(again)
    with services.session_factory() as s:
        from sqlalchemy import text

        assert s.execute(text("SELECT count(*) FROM votes")).scalar() == 1
        hashes = {h for (h,) in s.execute(text("SELECT client_hash FROM votes"))}
    assert hashes == {services.identifier.hash_address("127.0.0.1")}
    assert services.identifier.hash_address("6.6.6.6") not in hashes


def test_leaderboard_view_shows_latest_snapshot_table_and_charts(app) -> None:
    from gradio_client import Client

    from arena_app.services.client_id import ClientIdentity
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from leaderboard.compute import ComputeParams

    demo, services, _srv = app
    client = Client(demo.local_url, verbose=False)
    before = client.predict(False, "overall", api_name="/leaderboard_view")
    assert "No ratings yet" in repr(before)  # nothing fitted on view: no snapshot yet

    who = ClientIdentity("lb-session", "a" * 64)
    for i in range(6):
        state = services.battle.new_state()
        for _ in services.battle.send(state, f"question {i}", who):
            pass
        services.battle.vote(state, "a" if i % 3 else "tie", who)
    recompute(
        services.session_factory, RecomputeParams(compute=ComputeParams(rounds=20, style_control=False))
    )

    summary, table, _category, *plots = client.predict(False, "overall", api_name="/leaderboard_view")
    assert "Total votes" in summary and "Ratings computed" in summary
    assert "every counted vote is in them" in summary
    assert table.count("<tr") == 3  # header + two models
    for column in ("Rank (UB)", "Arena score", "95% CI", "Online Elo", "Organization", "License"):
        assert column in table
    assert "zorblax-9000" in table and "Zorbcorp" in table
    assert len(plots) == 4 and all(p is not None for p in plots)
    styled_summary, styled_table, *_ = client.predict(True, "overall", api_name="/leaderboard_view")
    # the snapshot was computed without style control: the tab says so instead of showing raw ratings
    assert "Style-controlled ratings are not available" in styled_summary + styled_table
    assert "<tr" not in styled_table


def test_leaderboard_views_are_built_once_per_snapshot_and_say_how_many_votes_are_newer(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plotly.graph_objects as go
    from gradio_client import Client

    from arena_app.services.client_id import ClientIdentity
    from arena_app.services.leaderboard_service import RecomputeParams, recompute
    from leaderboard.compute import ComputeParams
    from leaderboard.result import LeaderboardResult

    demo, services, _srv = app
    built: list[bool] = []
    serialised: list[str] = []
    real_figures, real_json = LeaderboardResult.figures, go.Figure.to_json

    def figures(self: LeaderboardResult, *, style: bool = False) -> dict[str, go.Figure]:
        built.append(style)
        return real_figures(self, style=style)

    def to_json(self: go.Figure, *args: Any, **kwargs: Any) -> str:
        serialised.append("figure")
        return real_json(self, *args, **kwargs)

    monkeypatch.setattr(LeaderboardResult, "figures", figures)
    monkeypatch.setattr(go.Figure, "to_json", to_json)
    who = ClientIdentity("lb-cache", "b" * 64)

    def vote(i: int) -> None:
        state = services.battle.new_state()
        for _ in services.battle.send(state, f"cache question {i}", who):
            pass
        services.battle.vote(state, "b", who)

    def recompute_now() -> None:
        params = RecomputeParams(compute=ComputeParams(rounds=20), incremental=True)
        assert recompute(services.session_factory, params)[0].stored

    vote(0)
    recompute_now()
    client = Client(demo.local_url, verbose=False)
    loads = [client.predict(False, "overall", api_name="/leaderboard_view") for _ in range(5)]
    assert built == [False] and len(serialised) == 4  # the first load built it; the others reused it
    assert all(load == loads[0] for load in loads) and "every counted vote is in them" in loads[0][0]
    vote(1)  # the summary says the ratings miss it, still without building the view again
    summary, *_ = client.predict(False, "overall", api_name="/leaderboard_view")
    assert "1 newer vote not in them yet" in summary and built == [False]
    recompute_now()  # a new snapshot: its view is built once, on the next load
    for _ in range(3):
        summary, table, _cat, *plots = client.predict(False, "overall", api_name="/leaderboard_view")
    assert built == [False, False] and len(serialised) == 8 and all(p is not None for p in plots)
    assert "every counted vote is in them" in summary


def test_leaderboard_invalid_category_is_a_clear_message(app) -> None:
    from gradio_client import Client

    demo, _services, _srv = app
    summary, table, *_ = Client(demo.local_url, verbose=False).predict(
        False, "<b>bad category</b>", api_name="/leaderboard_view"
    )
    assert "invalid category" in summary and "<b>" not in table
