"""Shadow exclusion: a judge flagged by ``arena integrity scan --apply`` keeps seeing the same "thanks" as
anyone, and nothing in what the app returns tells the two apart."""

from __future__ import annotations

from arena_app.domain import ExcludedReason
from arena_app.services.app_services import AppServices
from arena_app.services.client_id import ClientIdentity
from arena_app.services.integrity import restore_judges
from arena_app.storage import integrity_queries as iq
from arena_app.storage.db import session_scope
from arena_app.ui.battle_common import status_text
from tests.services.helpers import drain, rows

FLAGGED = ClientIdentity(session_id="s-bot", client_hash="b" * 64)
HONEST = ClientIdentity(session_id="s-honest", client_hash="c" * 64)


def _battle_and_vote(services: AppServices, who: ClientIdentity) -> str:
    state = services.battle.new_state()
    drain(services.battle.send(state, "Which is better?", who))
    services.battle.vote(state, "a", who)
    return status_text(state)


def test_a_flagged_judge_sees_the_same_thanks(services: AppServices) -> None:
    _battle_and_vote(services, FLAGGED)
    with session_scope(services.session_factory) as s:  # what `arena integrity scan --apply` does
        assert iq.mark_judges(s, [FLAGGED.client_hash], ExcludedReason.ANOMALOUS_JUDGE, None) == 1
    flagged_status = _battle_and_vote(services, FLAGGED)
    honest_status = _battle_and_vote(services, HONEST)
    assert flagged_status == honest_status
    assert flagged_status.startswith("✅ Thanks, your vote was recorded.") and "count" not in flagged_status
    stored = rows(services, "SELECT client_hash, excluded_reason FROM votes ORDER BY id")
    assert [r["excluded_reason"] for r in stored] == ["anomalous_judge", None, None]  # the next scan decides
    assert restore_judges(services.session_factory) == 1
    assert all(r["excluded_reason"] is None for r in rows(services, "SELECT excluded_reason FROM votes"))
