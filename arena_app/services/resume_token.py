"""Signed, expiring tokens that let a browser come back to its current battle after a reload.

The browser keeps the token (``gr.BrowserState``, i.e. its localStorage); the battle itself lives in the
database. A token names one battle, its mode and an expiry time, and carries an HMAC-SHA256 of exactly
those over a server secret shared by every replica (:mod:`arena_app.services.secret_store`), so any
replica can check it and nobody without the secret can make one: changing the battle id, the mode or the
expiry breaks the signature, and a token signed with another deployment's secret is refused too.

Format: ``b1.<mode>.<battle id>.<expires, unix seconds>.<signature, urlsafe base64>``. The signature is
checked (constant time) before anything else in the token is believed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from arena_app.domain import BattleMode
from arena_app.services.errors import InputRejected

#: the signing key's name in :mod:`~arena_app.services.secret_store` (env ``ARENA_RESUME_TOKEN_KEY``)
RESUME_KEY_NAME = "resume_token_key"
VERSION = "b1"
#: the whole token; a 32-byte signature is 43 base64 characters without padding
_SHAPE = re.compile(r"b1\.(anony|named)\.([1-9][0-9]{0,18})\.([1-9][0-9]{0,11})\.([A-Za-z0-9_-]{43})")
MAX_TOKEN_CHARS = 120
MIN_KEY_BYTES = 16

NOT_VALID = "Your previous battle could not be restored: its saved token is not valid. Start a new round."
EXPIRED = "Your previous battle could not be restored: its saved token has expired. Start a new round."


@dataclass(frozen=True)
class ResumeClaim:
    """What a valid token says: this browser may continue ``battle_id`` (of ``mode``)."""

    mode: BattleMode
    battle_id: int
    expires: int


class ResumeTokens:
    """Issue and check resume tokens. ``key``: the signing secret (at least 16 bytes); ``ttl_s``: how long
    a token stays valid after it is issued; ``clock``: unix time (tests pass their own)."""

    def __init__(self, key: bytes, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the resume token key must have at least {MIN_KEY_BYTES} bytes")
        if ttl_s < 1:
            raise ValueError("the resume token lifetime must be at least one second")
        self._key = key
        self.ttl_s = ttl_s
        self._clock = clock

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def issue(self, mode: BattleMode, battle_id: int) -> str:
        expires = int(self._clock()) + self.ttl_s
        body = f"{VERSION}.{BattleMode(mode).value}.{int(battle_id)}.{expires}"
        return f"{body}.{self._sign(body)}"

    def check(self, token: object, mode: BattleMode) -> ResumeClaim:
        """The claim of a valid, unexpired token for a battle of ``mode``; otherwise
        :class:`InputRejected` (malformed, forged, signed with another key, another mode, expired)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise InputRejected(NOT_VALID)
        match = _SHAPE.fullmatch(token)
        if match is None:
            raise InputRejected(NOT_VALID)
        body, signature = token.rsplit(".", 1)
        if not hmac.compare_digest(self._sign(body).encode("ascii"), signature.encode("ascii")):
            raise InputRejected(NOT_VALID)
        claim = ResumeClaim(BattleMode(match[1]), int(match[2]), int(match[3]))
        if claim.mode != BattleMode(mode):
            raise InputRejected(NOT_VALID)  # a side-by-side token in the anonymous tab, or the reverse
        if claim.expires <= self._clock():
            raise InputRejected(EXPIRED)
        return claim

    def browser_secret(self) -> str:
        """A value for ``gr.BrowserState(secret=...)``, the same on every replica. Gradio sends that secret
        to the browser (it only obfuscates localStorage), so it is derived one way from the key and
        protects nothing itself: the token's own signature does."""
        return hmac.new(self._key, b"browser-state", hashlib.sha256).hexdigest()[:32]
