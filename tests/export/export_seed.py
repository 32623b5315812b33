"""Helpers for export tests and the export benchmark: fast bulk seeding of votes, setting vote times."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text, update

from arena_app.storage.models import Vote

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def bulk_seed(engine: Engine, n: int) -> None:
    """Insert ``n`` battles (2 conversations each) with one vote each, generated inside the database
    (INSERT ... SELECT over a number series), so 200k votes take seconds rather than minutes.

    Rows ``i = 0..n-1`` follow existing ids. Vote ``i`` is at ``EPOCH + (i + 1) s``; every 10th vote
    (``i % 10 == 9``) is excluded as ``identity_leak``; odd ``i`` are named battles, even ones anonymous;
    outcome ``OUTCOMES[i % 4]``; models ``m{i % 7}`` vs ``m{(i + 1) % 7}``.
    """
    pg = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        c0 = conn.scalar(text("SELECT coalesce(max(id), 0) FROM conversations"))
        b0 = conn.scalar(text("SELECT coalesce(max(id), 0) FROM battles"))
        if pg:
            series = f"(SELECT g AS i FROM generate_series(0, {n - 1}) AS g) AS seq"
            epoch = "timestamptz '2026-01-01 00:00:00+00'"
            stamp = f"{epoch} + (i + 1) * interval '1 second'"
            mode = "CASE WHEN i % 2 = 1 THEN 'named' ELSE 'anony' END"
        else:
            series = (
                f"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}) "
                "SELECT i FROM s) AS seq"
            )
            epoch = "'2026-01-01 00:00:00.000000'"
            stamp = "strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || (i + 1) || ' seconds') || '.000000'"
            mode = "CASE WHEN i % 2 = 1 THEN 'named' ELSE 'anony' END"
        for side in (0, 1):
            conn.execute(
                text(
                    "INSERT INTO conversations (id, mode, model_name, session_id, client_hash, created_at, "
                    "answer_tokens, header_count, list_count, bold_count, has_code) "
                    f"SELECT {c0} + 2 * i + {side + 1}, 'anony', 'm' || ((i + {side}) % 7), 's' || i, "
                    f"'h' || (i % 1000), {epoch}, 0, 0, 0, 0, {'false' if pg else '0'} FROM {series}"
                )
            )
        conn.execute(
            text(
                "INSERT INTO battles (id, mode, model_a, model_b, conversation_a_id, conversation_b_id, "
                "session_id, client_hash, created_at, turn_count, regenerations) "
                f"SELECT {b0} + i + 1, {mode}, 'm' || (i % 7), 'm' || ((i + 1) % 7), {c0} + 2 * i + 1, "
                f"{c0} + 2 * i + 2, 's' || i, 'h' || (i % 1000), {epoch}, 1, 0 FROM {series}"
            )
        )
        outcome = (
            "CASE i % 4 WHEN 0 THEN 'model_a' WHEN 1 THEN 'model_b' WHEN 2 THEN 'tie' "
            "ELSE 'tie (bothbad)' END"
        )
        conn.execute(
            text(
                "INSERT INTO votes (battle_id, outcome, turn_count, excluded_reason, session_id, "
                f"client_hash, created_at) SELECT {b0} + i + 1, {outcome}, 1 + i % 3, "
                "CASE WHEN i % 10 = 9 THEN 'identity_leak' END, 's' || i, 'h' || (i % 1000), "
                f"{stamp} FROM {series}"
            )
        )
        if pg:
            for table in ("conversations", "battles"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )


def set_vote_time(engine: Engine, vote_id: int, when: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(update(Vote).where(Vote.id == vote_id).values(created_at=when))
