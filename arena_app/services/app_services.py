"""The services container the UI is built from: ``create_services(settings, registry) -> AppServices``.

:class:`AppServices` is the one typed entrance for the UI: model lists and descriptions
(:meth:`~AppServices.catalogue`, :meth:`~AppServices.chat_model_names`), parameters chosen by a user
(:meth:`~AppServices.user_params`), client identity, the battle and chat services, and the leaderboard view.
Errors it raises are those of :mod:`arena_app.services.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from arena_app.providers.base import GenerationParams
from arena_app.services.battle import BattleService
from arena_app.services.catalogue import ModelCard, Registry
from arena_app.services.chat import ChatService
from arena_app.services.client_id import ClientIdentifier, ClientIdentity
from arena_app.services.client_salt import resolve_client_salt
from arena_app.services.identity import IdentityDetector
from arena_app.services.pair_sampling import make_sampler
from arena_app.services.rate_limits import RateLimiter
from arena_app.services.resume_token import RESUME_KEY_NAME, ResumeTokens
from arena_app.services.sampling import ModelPicker
from arena_app.services.secret_store import load_or_create_secret
from arena_app.services.share import SECRET_NAME, ShareLinks
from arena_app.services.view_cache import ViewCache
from arena_app.settings import ArenaSettings
from arena_app.storage.db import make_engine, make_session_factory

if TYPE_CHECKING:  # the leaderboard service (numpy, plotly) is imported when the view is first asked for
    from arena_app.services.leaderboard_history import RatingHistory
    from arena_app.services.leaderboard_models import HeadToHead
    from arena_app.services.leaderboard_service import LeaderboardView


@dataclass
class AppServices:
    settings: ArenaSettings
    registry: Registry
    session_factory: sessionmaker[Session]
    picker: ModelPicker
    battle: BattleService  # anonymous battles
    named: BattleService  # side-by-side with chosen models (the same service; BattleMode.NAMED states)
    chat: ChatService
    identifier: ClientIdentifier
    tokens: ResumeTokens  # the signed resume tokens browsers keep for their current battle
    salt_notes: tuple[str, ...] = ()  # where the client-hash salt is and what start-up did (never the value)
    share: ShareLinks | None = None  # share links of voted battles (None: built without them)
    engine: Engine | None = None  # set when create_services made the engine (closed by close())
    # built leaderboard views by snapshot: a page load costs no plotting (services/view_cache.py)
    views: ViewCache[LeaderboardView] = field(default_factory=ViewCache)
    histories: ViewCache[RatingHistory] = field(default_factory=lambda: ViewCache(16))  # by snapshot set

    def catalogue(self) -> list[ModelCard]:
        """Every configured model, in endpoint-file order (healthy or not)."""
        return [ModelCard.of(info) for info in self.registry.models()]

    def chat_model_names(self) -> list[str]:
        """Models a user may pick by name (side-by-side, direct chat)."""
        return self.picker.chat_names()

    def user_params(
        self, temperature: float, top_p: float, max_new_tokens: float, model: str | None = None
    ) -> GenerationParams:
        """Generation parameters chosen in the UI, each checked to be a finite number in its slider's
        range; with ``model``, its recommended ``stop`` and ``extra_body`` (not shown as sliders) are
        kept. Raises :class:`InputRejected` for a bad value or a model that cannot be chosen by name."""
        return self.picker.user_params(temperature, top_p, max_new_tokens, model)

    def recommended_params(self, model: str | None) -> GenerationParams:
        """The sliders' starting values for ``model``: its recommended_config over the operator's
        defaults (``--max-new-tokens``; temperature 0.7, top p 1.0), clamped to the sliders' ranges."""
        return self.picker.recommended_params(model)

    @property
    def max_tokens_limit(self) -> int:
        """The most output tokens a user may choose."""
        return self.picker.max_tokens_limit

    def identify(
        self, peer: str | None, headers: Mapping[str, str], session_key: str | None
    ) -> ClientIdentity:
        return self.identifier.identify(peer, headers, session_key)

    def browser_secret(self) -> str:
        """The ``gr.BrowserState`` secret: the same on every replica (see ResumeTokens.browser_secret)."""
        return self.tokens.browser_secret()

    def leaderboard_view(self, category: str = "overall", style_control: bool = False) -> LeaderboardView:
        """The latest snapshot view (never fits). See docs/leaderboard.md.

        Raises :class:`InputRejected` for an invalid category name (saying what a valid one looks like)
        and :class:`Unavailable` when the database cannot be reached.
        """
        from arena_app.services.leaderboard_service import latest_view

        return latest_view(
            self.session_factory, category=category, style_control=style_control, cache=self.views
        )

    def head_to_head(self, model: str, category: str = "overall") -> HeadToHead:
        """``model``'s record against each opponent from the counted votes of ``category`` (read now, not
        from a snapshot). Raises :class:`InputRejected` for an empty or overlong name or an invalid
        category, :class:`Unavailable` when the database cannot be reached."""
        from arena_app.services.leaderboard_models import head_to_head

        return head_to_head(self.session_factory, model, category)

    def rating_history(self, category: str = "overall") -> RatingHistory:
        """The top models' ratings over the category's stored snapshots, with its chart (built once per
        set of snapshots). Raises :class:`InputRejected` for an invalid category name and
        :class:`Unavailable` when the database cannot be reached."""
        from arena_app.services.leaderboard_history import rating_history

        return rating_history(self.session_factory, category, cache=self.histories)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def create_services(
    settings: ArenaSettings,
    registry: Registry,
    session_factory: sessionmaker[Session] | None = None,
    rng: np.random.Generator | None = None,
) -> AppServices:
    """Build the services. Storage errors here (no database, no schema) propagate as they are: they are
    configuration errors for whoever starts the app, with the detail they need."""
    engine = None
    if session_factory is None:
        engine = make_engine(settings.database_url)
        session_factory = make_session_factory(engine)
    salt = resolve_client_salt(settings, session_factory)
    identifier = ClientIdentifier(salt.secret.value, settings.trusted_proxies)
    detector = IdentityDetector([*registry.identity_words(), *settings.identity_words])
    sampler = make_sampler(settings.sampling, floor=settings.sampling_floor, session_factory=session_factory)
    picker = ModelPicker(
        registry, rng if rng is not None else np.random.default_rng(), settings.max_new_tokens, sampler
    )
    # one signing key for every replica: ARENA_RESUME_TOKEN_KEY, else a private file created once
    key = load_or_create_secret(RESUME_KEY_NAME, settings.secrets_directory).value
    tokens = ResumeTokens(key.encode(), settings.resume_ttl_s)
    battle = BattleService(
        registry=registry,
        session_factory=session_factory,
        picker=picker,
        detector=detector,
        max_turns=settings.max_turns,
        max_input_chars=settings.max_input_chars,
        tokens=tokens,
        battle_limit=RateLimiter.of("battle", settings.rate_limit_battles),
        vote_limit=RateLimiter.of("vote", settings.rate_limit_votes),
    )
    chat = ChatService(
        registry=registry,
        session_factory=session_factory,
        picker=picker,
        max_turns=settings.max_turns,
        max_input_chars=settings.max_input_chars,
    )
    return AppServices(
        settings=settings,
        registry=registry,
        session_factory=session_factory,
        picker=picker,
        battle=battle,
        named=battle,
        chat=chat,
        identifier=identifier,
        tokens=tokens,
        salt_notes=(salt.where(), *salt.notes),
        share=_share_links(settings, session_factory),
        engine=engine,
    )


def _share_links(settings: ArenaSettings, session_factory: sessionmaker[Session]) -> ShareLinks:
    """Share links signed with their own secret (created on first use; never the client-hash salt)."""
    key = load_or_create_secret(SECRET_NAME, settings.secrets_directory).value if settings.share_links else ""
    return ShareLinks(session_factory, key, enabled=settings.share_links)
