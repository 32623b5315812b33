"""The services container the UI is built from: ``create_services(settings, registry) -> AppServices``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from arena_app.services.battle import BattleService
from arena_app.services.chat import ChatService
from arena_app.services.client_id import ClientIdentifier, ClientIdentity
from arena_app.services.identity import IdentityDetector
from arena_app.services.sampling import ModelPicker
from arena_app.settings import ArenaSettings
from arena_app.storage import api
from arena_app.storage.db import make_engine, make_session_factory, session_scope

if TYPE_CHECKING:  # the leaderboard service (numpy, plotly) is imported when the view is first asked for
    from arena_app.services.leaderboard_service import LeaderboardView


@dataclass
class AppServices:
    settings: ArenaSettings
    registry: Any  # arena_app.providers.registry.ModelRegistry
    session_factory: sessionmaker[Session]
    picker: ModelPicker
    battle: BattleService  # anonymous battles
    named: BattleService  # side-by-side with chosen models (same service, mode "named" states)
    chat: ChatService
    identifier: ClientIdentifier
    engine: Engine | None = None  # set when create_services made the engine (closed by close())

    def identify(
        self, peer: str | None, headers: Mapping[str, str], session_key: str | None
    ) -> ClientIdentity:
        return self.identifier.identify(peer, headers, session_key)

    def leaderboard_view(self, category: str = "overall", style_control: bool = False) -> LeaderboardView:
        """The latest snapshot view (never fits). See docs/leaderboard.md."""
        from arena_app.services.leaderboard_service import latest_view

        return latest_view(self.session_factory, category=category, style_control=style_control)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def create_services(
    settings: ArenaSettings,
    registry: Any,
    session_factory: sessionmaker[Session] | None = None,
    rng: np.random.Generator | None = None,
) -> AppServices:
    engine = None
    if session_factory is None:
        engine = make_engine(settings.database_url)
        session_factory = make_session_factory(engine)
    salt = settings.client_id_salt.get_secret_value()
    if not salt:
        with session_scope(session_factory) as s:
            salt = api.get_or_create_salt(s)
    identifier = ClientIdentifier(salt, settings.trusted_proxies)
    words = list(registry.identity_words()) + list(settings.identity_words)
    detector = IdentityDetector(words)
    picker = ModelPicker(
        registry, rng if rng is not None else np.random.default_rng(), settings.max_new_tokens
    )
    common: dict[str, Any] = {
        "registry": registry,
        "session_factory": session_factory,
        "picker": picker,
        "max_turns": settings.max_turns,
        "max_input_chars": settings.max_input_chars,
    }
    battle = BattleService(detector=detector, **common)
    return AppServices(
        settings=settings,
        registry=registry,
        session_factory=session_factory,
        picker=picker,
        battle=battle,
        named=battle,
        chat=ChatService(**common),
        identifier=identifier,
        engine=engine,
    )
