"""Small helpers for the service tests (imported as ``tests.services.helpers``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeVar

from sqlalchemy import text

from arena_app.services.app_services import AppServices
from arena_app.services.battle_state import BattleState

T = TypeVar("T")


def drain(gen: Iterator[T]) -> T:
    last: T | None = None
    for current in gen:
        last = current
    assert last is not None
    return last


def rows(services: AppServices, sql: str, **params: object) -> list[dict[str, Any]]:
    with services.session_factory() as s:
        return [dict(r._mapping) for r in s.execute(text(sql), params)]


def side_of(state: BattleState, model: str) -> int:
    return [s.model for s in state.sides].index(model)


def json_value(raw: Any) -> Any:
    """A JSON column read by raw SQL: PostgreSQL's driver decodes it, SQLite returns the text."""
    return json.loads(raw) if isinstance(raw, str) else raw
