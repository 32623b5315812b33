"""Share links: a read-only permalink to a battle once it has its vote (its conversation, both model names
and the vote; never who voted, their session or address).

A link carries ``<battle id>-<tag>``, the tag being an HMAC-SHA256 of the battle id under the secret
``share_link_key`` (:mod:`arena_app.services.secret_store`; 128 bits kept), so a guessed or edited id is
refused without a database column to look it up by. The operator turns links off with
``--share-links false``: none are offered and existing ones stop opening.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from arena_app.domain import BattleMode, Outcome
from arena_app.services.errors import NotFound, storage_errors
from arena_app.storage import api
from arena_app.storage.db import session_scope
from arena_app.storage.errors import NotFoundError
from arena_app.storage.records import MessageRecord

SECRET_NAME = "share_link_key"
_TOKEN = re.compile(r"^([1-9][0-9]{0,18})-([0-9a-f]{32})$")
#: one message for every refusal, so a probe learns nothing about which battles exist or have votes
NO_SUCH_LINK = "This share link does not exist (or sharing is turned off)."


@dataclass(frozen=True)
class SharedBattle:
    """What a share link shows. ``turns``: (user message, [answer of A, answer of B]), answers may be ''."""

    mode: BattleMode
    models: tuple[str, str]
    turns: list[tuple[str, list[str]]]
    outcome: Outcome
    voted_at: datetime


class ShareLinks:
    def __init__(self, session_factory: sessionmaker[Session], key: str, enabled: bool) -> None:
        self._sf = session_factory
        self._key = key.encode()
        self.enabled = enabled

    def _tag(self, battle_id: int) -> str:
        return hmac.new(self._key, f"battle:{battle_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def token_for(self, battle_id: int) -> str | None:
        """The link token of a voted battle (None when sharing is off). Call only after the vote."""
        return f"{battle_id}-{self._tag(battle_id)}" if self.enabled else None

    def open(self, token: str) -> SharedBattle:
        """The shared battle of ``token``. Raises :class:`NotFound` (one message for every case) when
        sharing is off, the token is malformed or forged, or the battle has no vote."""
        match = _TOKEN.match((token or "").strip())
        if not self.enabled or match is None:
            raise NotFound(NO_SUCH_LINK)
        battle_id = int(match.group(1))
        if not hmac.compare_digest(match.group(2), self._tag(battle_id)):
            raise NotFound(NO_SUCH_LINK)
        with storage_errors(), session_scope(self._sf) as s:
            try:
                battle = api.get_battle(s, battle_id)
            except NotFoundError as exc:  # a key that signed ids of another database
                raise NotFound(NO_SUCH_LINK) from exc
            vote = api.get_vote_for_battle(s, battle_id)
            if vote is None:
                raise NotFound(NO_SUCH_LINK)
            sides = [
                _pairs(api.list_messages(s, c)) for c in (battle.conversation_a_id, battle.conversation_b_id)
            ]
        turns = [
            (user, [answer_a, sides[1][n][1] if n < len(sides[1]) else ""])
            for n, (user, answer_a) in enumerate(sides[0])
        ]
        return SharedBattle(
            mode=battle.mode,
            models=(battle.model_a, battle.model_b),
            turns=turns,
            outcome=vote.outcome,
            voted_at=vote.created_at,
        )


def _pairs(messages: list[MessageRecord]) -> list[tuple[str, str]]:
    """(user text, answer text or '') per turn, from a conversation's current messages in order."""
    pairs: list[tuple[str, str]] = []
    for message in messages:
        if message.role == "user":
            pairs.append((message.content, ""))
        elif message.role == "assistant" and pairs:
            pairs[-1] = (pairs[-1][0], message.content)
    return pairs
