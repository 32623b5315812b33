"""Database failures are logged once per incident, not once per request: a real PostgreSQL database is
made unreachable (connections refused, the open ones terminated) while battles keep arriving."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from arena_app.services import incidents
from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.errors import Unavailable
from arena_app.services.incidents import IncidentLog
from tests.conftest import POSTGRES_URL
from tests.services.helpers import drain


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """The process's database incident log, on a clock the test moves."""
    c = Clock()
    monkeypatch.setattr(
        incidents, "DATABASE", IncidentLog("database", quiet_s=60, traceback_every_s=600, clock=c)
    )
    # the modules that report hold their own reference
    import arena_app.services.live_answers as live_answers

    monkeypatch.setattr(live_answers, "DATABASE", incidents.DATABASE)
    yield c


def _set_connections(database_url: str, allowed: bool) -> None:
    name = make_url(database_url).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
        if not allowed:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
    admin.dispose()


def test_an_outage_is_one_log_line_with_one_traceback_not_one_per_request(
    make_services: Callable[..., AppServices],
    postgres_url: str,
    client: ClientIdentity,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = make_services(database_url=postgres_url, rate_limit_battles="off")
    drain(services.battle.send(services.battle.new_state(), "before the outage", client))
    _set_connections(postgres_url, allowed=False)
    try:
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for n in range(40):
                clock.now += 1
                with pytest.raises(Unavailable):
                    drain(services.battle.send(services.battle.new_state(), f"during {n}", client))
            first_incident = [r for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(first_incident) == 1, [r.getMessage() for r in first_incident]
            line = first_incident[0]
            assert line.getMessage().startswith("database unavailable: ")
            assert "is not currently accepting connections" in line.getMessage()
            assert line.exc_info is not None  # the first incident carries the traceback
            assert incidents.DATABASE.failures == 40

            # quiet for longer than quiet_s: the next failure is a new incident, one more line, no
            # traceback (one was logged less than 600 s ago), with the count of the previous one
            clock.now += 120
            for _ in range(10):
                clock.now += 1
                with pytest.raises(Unavailable):
                    drain(services.battle.send(services.battle.new_state(), "later", client))
        lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(lines) == 2, [r.getMessage() for r in lines]
        assert "the previous incident: 40 failures over 39 s" in lines[1].getMessage()
        assert lines[1].exc_info is None
    finally:
        _set_connections(postgres_url, allowed=True)
    drain(services.battle.send(services.battle.new_state(), "after the outage", client))  # serving again


def test_a_traceback_again_once_the_interval_has_passed() -> None:
    clock = Clock()
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("test-incidents")
    logger.addHandler(Keep())
    logger.propagate = False
    log = IncidentLog("database", quiet_s=10, traceback_every_s=100, clock=clock, logger=logger)
    for step in (0, 5, 30, 200):  # opens incidents at 0, 30 and 200 (5 is within the first)
        clock.now += step
        log.report(RuntimeError("down"))
    assert [r.exc_info is not None for r in records] == [True, False, True]
