"""``arena serve`` pieces: database preparation, endpoint loading and the periodic leaderboard refresh
(:mod:`arena_app.services.runtime`; the launch itself is exercised by the end-to-end tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena_app.cli.main import build_parser
from arena_app.services.errors import Refused
from arena_app.services.runtime import build_registry, endpoint_config, prepare_database
from arena_app.settings import load_settings
from arena_app.storage.migrate import current, head_revision


def test_sqlite_default_is_migrated_automatically(empty_sqlite_url: str) -> None:
    assert current(empty_sqlite_url) is None
    prepare_database(empty_sqlite_url)
    assert current(empty_sqlite_url) == head_revision()
    prepare_database(empty_sqlite_url)  # idempotent


@pytest.mark.postgres
def test_postgres_behind_is_refused_with_the_fix(empty_postgres_url: str) -> None:
    with pytest.raises(Refused, match="arena db upgrade"):
        prepare_database(empty_postgres_url)
    assert current(empty_postgres_url) is None  # untouched


@pytest.mark.postgres
def test_postgres_at_head_is_accepted(postgres_url: str) -> None:
    prepare_database(postgres_url)


def test_entries_with_missing_key_env_are_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "endpoints.json"
    entry = {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"}
    path.write_text(
        json.dumps(
            {
                "keyed": {**entry, "api_key_env": "ARENA_TEST_PRESENT_KEY"},
                "missing": {**entry, "api_key_env": "ARENA_TEST_ABSENT_KEY"},
                "local": entry,
            }
        )
    )
    monkeypatch.setenv("ARENA_TEST_PRESENT_KEY", "sk-x")
    monkeypatch.delenv("ARENA_TEST_ABSENT_KEY", raising=False)
    settings = load_settings(endpoints_file=path)
    warnings: list[str] = []
    registry = build_registry(settings, endpoint_config(settings), say=warnings.append)
    assert [m.name for m in registry.models()] == ["keyed", "local"]
    assert len(warnings) == 1 and warnings[0].startswith("warning: skipping model:")
    assert "missing" in warnings[0] and "ARENA_TEST_ABSENT_KEY" in warnings[0] and "sk-x" not in warnings[0]


def test_endpoint_file_errors_are_specific(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="nope.json: file not found"):
        endpoint_config(load_settings(endpoints_file=tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(Refused, match="bad.json: invalid JSON at line 1, column 2"):
        endpoint_config(load_settings(endpoints_file=bad))
    twice = tmp_path / "twice.json"  # the same loader as `arena models`: a repeated key is an error
    entry = '{"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"}'
    twice.write_text(f'{{"m": {entry}, "m": {entry}}}')
    with pytest.raises(Refused, match="duplicate key 'm'"):
        endpoint_config(load_settings(endpoints_file=twice))


def test_demo_entries_and_file_entries_are_merged_file_first(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps({"shared": {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"}}))
    settings = load_settings(endpoints_file=path, max_new_tokens=99)
    demo = {
        "demo-a": {"api_type": "openai", "api_base": "http://127.0.0.1:8/v1"},
        "shared": {"api_type": "openai", "api_base": "http://127.0.0.1:7/v1"},
    }
    registry = build_registry(settings, endpoint_config(settings), demo, say=print)
    assert [m.name for m in registry.models()] == ["demo-a", "shared"]
    assert registry.get("shared").endpoints == ("127.0.0.1:9",)  # the file's entry wins
    assert registry.get("demo-a").params.max_new_tokens == 99  # ARENA_MAX_NEW_TOKENS applies
    assert build_registry(settings, None, say=print).models() == []


def test_endpoints_alias_flag() -> None:
    args = build_parser().parse_args(["serve", "--endpoints", "x.json", "--port", "8001"])
    assert args.setting_endpoints_file == "x.json" and args.setting_port == 8001
    assert args.func.__module__ == "arena_app.cli.serve"


def test_recompute_every_stores_snapshots_in_the_background(sqlite_url: str) -> None:
    import threading
    from datetime import UTC, datetime

    from arena_app.providers.registry import ModelRegistry
    from arena_app.services.app_services import create_services
    from arena_app.services.leaderboard_refresh import LeaderboardRefresher
    from arena_app.storage import api
    from arena_app.storage.db import session_scope

    entry = {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1", "api_key": "k"}
    registry = ModelRegistry.from_mapping({"m1": entry, "m2": entry})
    services = create_services(load_settings(database_url=sqlite_url, client_id_salt="s"), registry)
    assert services.leaderboard_view().created_at is None
    with session_scope(services.session_factory) as s:
        for i in range(6):
            b = api.create_battle(
                s, mode="anony", model_a="m1", model_b="m2", session_id="x", client_hash="h"
            )
            for conv in (b.conversation_a_id, b.conversation_b_id):
                api.add_user_message(s, conv, "q")
                now = datetime.now(UTC)
                api.add_assistant_message(
                    s,
                    conv,
                    "a",
                    created_at=now,
                    finished_at=now,
                    ttft_s=0.1,
                    output_tokens=3,
                    finish_reason="stop",
                )
            api.record_vote(
                s,
                battle_id=b.id,
                outcome="model_a" if i % 3 else "tie",
                turn_count=1,
                session_id="x",
                client_hash="h",
            )
    stop = threading.Event()
    refresher = LeaderboardRefresher(services.session_factory, min_votes=services.settings.min_votes)
    thread = threading.Thread(target=refresher.run_every, args=(0.2, stop), daemon=True)
    thread.start()
    try:
        deadline = 60.0
        import time

        start = time.monotonic()
        while services.leaderboard_view().created_at is None and time.monotonic() - start < deadline:
            time.sleep(0.2)
        view = services.leaderboard_view()
        assert view.created_at is not None and view.total_votes == 6
        assert [r.model for r in view.rows][0] == "m1"
    finally:
        stop.set()
        thread.join(30)
        services.close()
    assert not thread.is_alive()


def test_a_failure_while_building_the_app_stops_the_demo_worker(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever fails after the demo worker started, ``arena serve`` stops that worker process itself."""
    import argparse
    import subprocess
    import sys

    import arena_app.demo
    import arena_app.ui.app
    from arena_app.cli import serve
    from arena_app.demo import DemoHandle

    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    handle = DemoHandle(endpoints={}, processes=[worker])
    monkeypatch.setattr(arena_app.demo, "start_demo", lambda *a, **k: handle)

    def broken_build_app(services: object) -> None:
        raise RuntimeError("injected: the app could not be built")

    monkeypatch.setattr(arena_app.ui.app, "build_app", broken_build_app)
    settings = load_settings(database_url=sqlite_url, client_id_salt="s", demo=True)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            serve.run(argparse.Namespace(), settings)
        assert worker.wait(timeout=10) is not None  # stopped by run(), not left to the parent's exit
    finally:
        if worker.poll() is None:
            worker.kill()


def test_serving_without_endpoints_builds_the_app_and_battles_say_why(sqlite_url: str) -> None:
    """``arena serve`` with no endpoint file and no --demo starts (the leaderboard still works); the
    battle refuses with a sentence instead of the app failing to start."""
    from arena_app.providers.registry import ModelRegistry
    from arena_app.services.app_services import create_services
    from arena_app.services.client_id import ClientIdentity
    from arena_app.services.sampling import NoModelsAvailable
    from arena_app.ui.app import build_app

    settings = load_settings(database_url=sqlite_url, client_id_salt="s")
    services = create_services(settings, ModelRegistry.empty())
    try:
        assert build_app(services) is not None
        state = services.battle.new_state()
        with pytest.raises(NoModelsAvailable, match="Fewer than two models"):
            next(services.battle.send(state, "hello", ClientIdentity("sess", "hash")))
        assert state.battle_id is None  # nothing stored
    finally:
        services.close()
