"""How the UI reports errors (ui/common.py: failure_notice, the one mapping).

A refusal is shown as its own message, an unreachable database as "the database is not available", and
anything else (a missing row, invalid input reaching storage: bugs of ours) is logged once with its
traceback while the user gets a generic message that does not claim anything was saved. Driven through
the real Gradio server and gradio_client; storage failures are injected into the storage API functions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from arena_app.providers.registry import ModelRegistry
from arena_app.services.app_services import AppServices, create_services
from arena_app.services.errors import DB_DOWN, InputRejected, NotFound, Unavailable, VoteRejected
from arena_app.settings import load_settings
from arena_app.storage import api
from arena_app.storage import snapshot_queries as sq
from arena_app.storage.errors import InvalidInputError, NotFoundError
from arena_app.ui.common import SOMETHING_WENT_WRONG, failure_notice
from tests.fakes.openai_server import OpenAIFakeServer, Reply


def test_failure_notice_maps_refusals_outages_and_bugs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        assert failure_notice(VoteRejected("You already voted.")) == "⚠️ You already voted."
        assert failure_notice(InputRejected("Type a message first.")) == "⚠️ Type a message first."
        assert failure_notice(Unavailable(DB_DOWN)) == f"⚠️ {DB_DOWN}"
        assert not caplog.records  # refusals and outages are not bugs: nothing logged
        for bug in (NotFound("battle 7 does not exist"), InvalidInputError("bad outcome"), KeyError("x")):
            assert failure_notice(bug) == SOMETHING_WENT_WRONG
    # each bug logged once, with its traceback
    logged = [type(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert logged == [NotFound, InvalidInputError, KeyError]
    assert len(caplog.records) == 3
    assert "may not have been saved" in SOMETHING_WENT_WRONG and "recorded" not in SOMETHING_WENT_WRONG


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, AppServices]]:
    from arena_app.storage.migrate import upgrade
    from arena_app.ui.app import LAUNCH_KWARGS, build_app

    url = f"sqlite:///{tmp_path_factory.mktemp('ui-errors') / 'arena.db'}"
    upgrade(url)
    with OpenAIFakeServer(default=Reply.text("An answer.")) as srv:
        common = {"api_type": "openai", "api_base": srv.base_url, "api_key": "k"}
        registry = ModelRegistry.from_mapping({"alpha": common, "beta": common})
        services = create_services(
            load_settings(database_url=url, client_id_salt="s"), registry, rng=np.random.default_rng(0)
        )
        demo = build_app(services)
        demo.queue(default_concurrency_limit=4)
        demo.launch(
            prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **LAUNCH_KWARGS
        )
        try:
            yield demo, services
        finally:
            demo.close()
            services.close()
            registry.close()


def _battle_client(demo: Any) -> Any:
    from gradio_client import Client

    client = Client(demo.local_url, verbose=False)
    client.predict("hello", api_name="/battle_send")
    return client


def _status(outputs: Any) -> str:
    return str(outputs[3])  # input, chatbot A, chatbot B, status, reveal


def _votes(services: AppServices) -> int:
    with services.session_factory() as s:
        return int(s.execute(text("SELECT count(*) FROM votes")).scalar_one())


def _errors_with_traceback(caplog: pytest.LogCaptureFixture) -> list[BaseException]:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    return [r.exc_info[1] for r in errors if r.exc_info and r.exc_info[1] is not None]


def test_a_missing_row_is_a_bug_not_a_database_outage(
    app: tuple[Any, AppServices], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    demo, services = app
    client = _battle_client(demo)
    before = _votes(services)

    def vanished(*args: object, **kwargs: object) -> object:
        raise NotFoundError("battle 1 does not exist")

    monkeypatch.setattr(api, "record_vote", vanished)
    with caplog.at_level(logging.ERROR):
        status = _status(client.predict(api_name="/battle_vote_a"))
    assert status == SOMETHING_WENT_WRONG
    assert "database is not available" not in status and "recorded" not in status
    logged = _errors_with_traceback(caplog)
    assert len(logged) == 1 and isinstance(logged[0], NotFound)  # once, with its traceback
    assert isinstance(logged[0].__cause__, NotFoundError)
    assert _votes(services) == before


def test_invalid_input_reaching_storage_is_a_bug(
    app: tuple[Any, AppServices], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    demo, services = app
    client = _battle_client(demo)

    def refuses(*args: object, **kwargs: object) -> object:
        raise InvalidInputError("invalid outcome 'x'")

    monkeypatch.setattr(api, "record_vote", refuses)
    with caplog.at_level(logging.ERROR):
        status = _status(client.predict(api_name="/battle_vote_b"))
    assert status == SOMETHING_WENT_WRONG
    assert [type(e) for e in _errors_with_traceback(caplog)] == [InvalidInputError]


def test_an_unreachable_database_says_so_and_logs_no_traceback(
    app: tuple[Any, AppServices], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    demo, services = app
    client = _battle_client(demo)
    before = _votes(services)

    def down(*args: object, **kwargs: object) -> object:
        raise OperationalError("INSERT INTO votes ...", {}, Exception("server closed the connection"))

    monkeypatch.setattr(api, "record_vote", down)
    with caplog.at_level(logging.ERROR):
        status = _status(client.predict(api_name="/battle_vote_tie"))
    assert status == f"⚠️ {DB_DOWN}"
    assert _errors_with_traceback(caplog) == []
    assert _votes(services) == before
    monkeypatch.undo()  # the database is back: the same battle can still be voted on
    assert "Thanks, your vote was recorded" in _status(client.predict(api_name="/battle_vote_tie"))
    assert _votes(services) == before + 1


def test_leaderboard_with_the_database_down_says_so(
    app: tuple[Any, AppServices], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from gradio_client import Client

    demo, _services = app

    def down(*args: object, **kwargs: object) -> object:
        raise OperationalError("SELECT ... FROM leaderboard_snapshots", {}, Exception("connection refused"))

    # the view's first read (which snapshot is newest): the database refuses it
    monkeypatch.setattr(sq, "latest_head", down)
    with caplog.at_level(logging.ERROR):
        summary, table, *_ = Client(demo.local_url, verbose=False).predict(
            False, "overall", api_name="/leaderboard_view"
        )
    assert DB_DOWN in summary and DB_DOWN in table
    assert _errors_with_traceback(caplog) == []
