"""The models of the arena as the services see them: :class:`ModelCard` (what the UI may show about a
model) and :class:`Registry`, the part of the providers' ``ModelRegistry`` the services use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from arena_app.providers.attempts import AnswerControl
from arena_app.providers.base import ChatMessage, Completion, GenerationParams, TextDelta
from arena_app.providers.model_info import ModelInfo


@dataclass(frozen=True)
class ModelCard:
    """Public facts about one configured model (never its upstream name, endpoints or key)."""

    name: str
    organization: str | None
    license: str | None
    link: str | None
    description: str | None
    battle: bool  # may appear in anonymous battles
    chat: bool  # may be picked by name (side-by-side, direct chat)

    @classmethod
    def of(cls, info: ModelInfo) -> ModelCard:
        return cls(
            name=info.name,
            organization=info.organization,
            license=info.license,
            link=info.link,
            description=info.description,
            battle=info.battle,
            chat=info.chat,
        )


class Registry(Protocol):
    """What the services need from :class:`arena_app.providers.registry.ModelRegistry`."""

    def models(self) -> list[ModelInfo]: ...
    def battle_models(self) -> list[ModelInfo]: ...
    def chat_models(self) -> list[ModelInfo]: ...
    def identity_words(self) -> list[str]: ...
    def answer(
        self,
        name: str,
        messages: list[ChatMessage],
        params: GenerationParams | None,
        control: AnswerControl,
        on_text: Callable[[TextDelta], None],
    ) -> Completion: ...
