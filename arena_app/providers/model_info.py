"""Public value types of the registry: what the app may know about a model, its health, check results,
and the identity words derived from model names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from arena_app.providers.base import GenerationParams

if TYPE_CHECKING:
    from arena_app.providers.endpoints import EndpointEntry


@dataclass(frozen=True)
class ModelInfo:
    """What the rest of the app may know about a model (never its key or full URLs)."""

    name: str  # display name (endpoint-file key); what votes and the leaderboard use
    model_name: str  # name sent upstream
    api_type: str
    organization: str | None
    license: str | None
    link: str | None
    description: str | None
    weight: float  # battle sampling weight (0: never sampled)
    battle: bool  # may appear in anonymous battles
    chat: bool  # may be picked by name (named battles / direct chat)
    params: GenerationParams  # recommended sampling parameters
    endpoints: tuple[str, ...]  # host[:port] of each api_base
    text_arena: bool = True
    vision_arena: bool = False
    custom_system_prompt: bool = False


def model_info_of(
    name: str, entry: EndpointEntry, hosts: tuple[str, ...], default_max_new_tokens: int | None
) -> ModelInfo:
    """The public facts of endpoint-file entry ``name`` whose api_bases have the given ``hosts``."""
    return ModelInfo(
        name=name,
        model_name=entry.model_name or name,
        api_type=entry.api_type,
        organization=entry.organization,
        license=entry.license,
        link=entry.link,
        description=entry.description,
        weight=entry.weight,
        battle=entry.in_battles,
        chat=entry.in_chat,
        params=entry.generation_params(default_max_new_tokens),
        endpoints=hosts,
        text_arena=entry.text_arena,
        vision_arena=entry.vision_arena,
        custom_system_prompt=entry.custom_system_prompt,
    )


@dataclass(frozen=True)
class EndpointHealth:
    host: str
    healthy: bool  # not in cool-down
    in_flight: int
    max_concurrency: int
    consecutive_failures: int
    cooldown_remaining_s: float
    requests: int
    failures: int
    last_error: str | None  # user-safe message of the last failure


@dataclass(frozen=True)
class ModelHealth:
    name: str
    healthy: bool  # at least one endpoint out of cool-down
    battle: bool
    chat: bool
    key_configured: bool
    key_source: str  # "env OPENAI_API_KEY", "inline", "none" (never the key itself)
    endpoints: tuple[EndpointHealth, ...]


@dataclass(frozen=True)
class EndpointCheck:
    """Result of :meth:`ModelRegistry.check` for one endpoint."""

    model: str
    host: str
    ok: bool
    detail: str  # the answer's start, or the user-safe error message
    ttft_s: float | None
    total_s: float


_GENERIC_WORDS = frozenset(
    {
        "chat",
        "instruct",
        "turbo",
        "preview",
        "latest",
        "mini",
        "base",
        "model",
        "large",
        "small",
        "medium",
        "nano",
        "pro",
        "max",
        "plus",
        "flash",
        "lite",
        "fast",
        "beta",
        "alpha",
        "experimental",
        "exp",
        "awq",
        "gptq",
        "gguf",
        "int",
        "fp",
        "bit",
        "local",
        "worker",
        "api",
        "the",
        "and",
        "new",
        "vision",
        "text",
        "code",
        "online",
        "hf",
        "it",
        "instruction",
        "demo",
        "tiny",
        "open",
        "llm",
        "inc",
        "ltd",
        "labs",
        "lab",
        "ai",
        "research",
        "team",
        "org",
        "high",
        "low",
        "sft",
        "dpo",
        "rlhf",
        "reasoning",
        "thinking",
        "only",
        "version",
        "release",
        "edition",
        "default",
        "legacy",
        "stable",
        "mix",
        "moe",
    }
)


def identity_words_for(models: Iterable[ModelInfo]) -> list[str]:
    """Lower-case words whose mention in an answer reveals a model's identity: display names, upstream
    model names, organizations and distinctive name fragments (e.g. "llama", "claude")."""
    words: set[str] = set()
    for info in models:
        for text in (info.name, info.model_name, info.organization):
            if not text:
                continue
            words.add(text.strip().lower())
            for part in re.findall(r"[a-z]{3,}", text.lower()):
                if part not in _GENERIC_WORDS:
                    words.add(part)
    return sorted(w for w in words if w)
