"""Strict parsing of the endpoint file (``api_endpoints.json``, FastChat-compatible, extended).

The file is a JSON object keyed by display name; each value describes one model (see docs/providers.md for
every field). :func:`load_endpoint_file` / :func:`parse_endpoints` return an :class:`EndpointConfig` or
raise :class:`EndpointFileError` listing every problem, each naming the model key and the field::

    api_endpoints.json: gpt-4o: api_type 'opnai' is not one of openai, openai_no_stream, ...

Nothing here touches the network or the environment; API keys are resolved by the registry.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from arena_app.providers.base import GenerationParams, Timeouts
from arena_app.providers.errors import EndpointFileError

#: api_type values this arena implements (the registry's PROVIDERS dict has exactly these keys).
API_TYPES = ("openai", "openai_no_stream", "anthropic_message", "anthropic")

#: FastChat api_types we recognise but do not implement, so the error can say so instead of "unknown".
FASTCHAT_ONLY_API_TYPES = frozenset(
    {
        "gemini",
        "gemini_no_system_prompt",
        "bard",
        "palm",
        "vertex",
        "mistral",
        "nvidia",
        "ai2",
        "yandexgpt",
        "cohere",
        "reka",
        "openai_assistant",
        "openai_o1",
        "bailing",
        "metagen",
        "anthropic_o1",
        "column",
        "no_stream_openai",
        "vertex_anthropic",
        "gemini_pro",
    }
)

DEFAULT_API_BASE = {
    "openai": "https://api.openai.com/v1",
    "openai_no_stream": "https://api.openai.com/v1",
    "anthropic_message": "https://api.anthropic.com",
    "anthropic": "https://api.anthropic.com",
}

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RecommendedConfig(BaseModel):
    """FastChat's ``recommended_config``: sampling defaults for this model (used in battles and chats)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_new_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] | None = None
    extra_body: dict[str, Any] | None = None


def _shown(url: str) -> str:
    """``url`` for an error message: errors are logged and shown, so a ``user:password@`` part is masked."""
    return re.sub(r"^([^/@\s]*//)?[^/@\s]*@", lambda m: (m.group(1) or "") + "***@", url)


class EndpointEntry(BaseModel):
    """One model of the endpoint file. FastChat fields first, then this arena's extensions."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    # --- FastChat fields
    model_name: str | None = Field(default=None, min_length=1)
    api_type: str
    api_base: str | list[str] | None = None
    api_key: SecretStr | None = None
    anony_only: bool = False
    recommended_config: RecommendedConfig = Field(default_factory=RecommendedConfig)
    text_arena: bool = Field(default=True, alias="text-arena")
    vision_arena: bool = Field(default=False, alias="vision-arena")
    custom_system_prompt: bool = False
    # --- extensions
    api_key_env: str | None = None
    battle: bool | None = None
    chat: bool | None = None
    weight: float = Field(default=1.0, ge=0.0)
    organization: str | None = None
    license: str | None = None
    link: str | None = None
    description: str | None = None
    max_concurrency: int = Field(default=16, ge=1)
    queue_timeout_s: float = Field(default=10.0, gt=0.0)
    timeout_s: float = Field(default=300.0, gt=0.0)
    connect_timeout_s: float = Field(default=10.0, gt=0.0)
    first_token_timeout_s: float = Field(default=60.0, gt=0.0)
    retries: int = Field(default=1, ge=0, le=5)

    @field_validator("api_type")
    @classmethod
    def _known_api_type(cls, value: str) -> str:
        if value in API_TYPES:
            return value
        supported = ", ".join(API_TYPES)
        if value in FASTCHAT_ONLY_API_TYPES:
            raise ValueError(
                f"api_type '{value}' is a FastChat type this arena does not implement; supported: "
                f"{supported} (most vendors also offer an OpenAI-compatible API: use api_type openai)"
            )
        raise ValueError(f"api_type '{value}' is not one of {supported}")

    @field_validator("api_base")
    @classmethod
    def _urls(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is None:
            return None
        urls = [value] if isinstance(value, str) else value
        if not urls:
            raise ValueError("api_base must be a URL or a non-empty list of URLs")
        for url in urls:
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"api_base '{_shown(url)}' is not an http:// or https:// URL")
        if len(set(urls)) != len(urls):
            raise ValueError("api_base lists the same URL twice")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                f"api_key_env '{value}' is not an environment variable name (e.g. OPENAI_API_KEY)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EndpointEntry:
        if self.api_key is not None and self.api_key_env is not None:
            raise ValueError("api_key and api_key_env are both set; keep only api_key_env")
        if self.anony_only and self.chat:
            raise ValueError("anony_only is true (battles only) but chat is true; remove one of them")
        if not self.in_battles and not self.in_chat:
            raise ValueError(
                "battle and chat are both false, so the model is listed nowhere; remove the entry"
            )
        if self.api_type in ("anthropic", "anthropic_message") and self.api_base is not None:
            for url in self.api_bases():
                if url.rstrip("/").endswith("/v1") or url.rstrip("/").endswith("/v1/messages"):
                    raise ValueError(
                        f"api_base '{_shown(url)}' must not end in /v1 for api_type {self.api_type} "
                        "(the anthropic SDK appends /v1/messages itself); use e.g. https://api.anthropic.com"
                    )
        if self.first_token_timeout_s > self.timeout_s:
            raise ValueError("first_token_timeout_s is longer than timeout_s (the total limit)")
        return self

    # ------------------------------------------------------------------------------- derived values
    @property
    def in_battles(self) -> bool:
        return True if self.battle is None else self.battle

    @property
    def in_chat(self) -> bool:
        return (not self.anony_only) if self.chat is None else self.chat

    def api_bases(self) -> list[str]:
        if self.api_base is None:
            return [DEFAULT_API_BASE[self.api_type]]
        return [self.api_base] if isinstance(self.api_base, str) else list(self.api_base)

    def timeouts(self) -> Timeouts:
        return Timeouts(
            connect_s=self.connect_timeout_s, first_token_s=self.first_token_timeout_s, total_s=self.timeout_s
        )

    def generation_params(self, default_max_new_tokens: int | None = None) -> GenerationParams:
        """``recommended_config`` over the defaults; ``default_max_new_tokens`` is the operator's limit
        (``ARENA_MAX_NEW_TOKENS``) for entries that set none."""
        rc = self.recommended_config
        defaults = GenerationParams()
        if default_max_new_tokens is not None:
            defaults = GenerationParams(max_new_tokens=default_max_new_tokens)
        return GenerationParams(
            temperature=defaults.temperature if rc.temperature is None else rc.temperature,
            top_p=defaults.top_p if rc.top_p is None else rc.top_p,
            max_new_tokens=defaults.max_new_tokens if rc.max_new_tokens is None else rc.max_new_tokens,
            stop=tuple(rc.stop or ()),
            extra_body=dict(rc.extra_body or {}),
        )


@dataclass(frozen=True)
class EndpointConfig:
    """A validated endpoint file: entries by display name, in file order."""

    entries: dict[str, EndpointEntry]
    source: str = "<mapping>"


_FIELD_NAMES = sorted({f.alias or name for name, f in EndpointEntry.model_fields.items()})


def _describe(key: str, err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        field = str(err["loc"][-1])
        known = _FIELD_NAMES if len(err["loc"]) == 1 else sorted(RecommendedConfig.model_fields)
        close = difflib.get_close_matches(field, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known fields: {', '.join(known)})"
        return f"{key}: unknown field '{loc}'{hint}"
    if err["type"] == "missing":
        return f"{key}: {loc} is required"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "value_error":
        return f"{key}: {msg}"  # our own messages name the field already
    return f"{key}: {loc}: {msg}"


def parse_endpoints(data: object, source: str = "<mapping>") -> EndpointConfig:
    """Validate an already-decoded endpoint mapping; raise EndpointFileError listing every problem."""
    if not isinstance(data, dict):
        raise EndpointFileError(source, ["the file must contain a JSON object keyed by model name"])
    if not data:
        raise EndpointFileError(source, ["the file lists no models"])
    problems: list[str] = []
    entries: dict[str, EndpointEntry] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key.strip():
            problems.append(f"{key!r}: a model name (the key) must be a non-empty string")
            continue
        if not isinstance(value, dict):
            problems.append(f"{key}: the entry must be a JSON object, not {type(value).__name__}")
            continue
        try:
            entries[key] = EndpointEntry.model_validate(value)
        except ValidationError as exc:
            problems.extend(_describe(key, err) for err in exc.errors())
    if problems:
        raise EndpointFileError(source, problems)
    return EndpointConfig(entries=entries, source=source)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key '{key}'")
        seen[key] = value
    return seen


def load_endpoint_file(path: str | Path) -> EndpointConfig:
    """Read and validate an endpoint file."""
    p = Path(path)
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EndpointFileError(
            source, ["file not found (copy api_endpoints.example.json to start one)"]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EndpointFileError(source, [f"cannot read the file: {exc.__class__.__name__}"]) from exc
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise EndpointFileError(
            source, [f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from None
    except ValueError as exc:  # duplicate key
        raise EndpointFileError(source, [f"invalid endpoint file: {exc}"]) from None
    return parse_endpoints(data, source)
