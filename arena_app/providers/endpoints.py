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
import logging
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

from arena_app.providers.api_types import API_TYPE_TABLE, USABLE, native_url_replaced, vertex_host
from arena_app.providers.base import GenerationParams, Timeouts
from arena_app.providers.entry_rules import api_type_problem, entry_notices, entry_problems, shown_url
from arena_app.providers.errors import EndpointFileError

#: api_type values this arena serves or routes (the registry's PROVIDERS dict has exactly these keys);
#: every other FastChat type is refused with its fix (see api_types.py)
API_TYPES = USABLE

DEFAULT_API_BASE = {n: t.default_base for n, t in API_TYPE_TABLE.items() if t.default_base is not None}

log = logging.getLogger("arena_app.providers")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RecommendedConfig(BaseModel):
    """FastChat's ``recommended_config``: sampling defaults for this model (used in battles and chats)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_new_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] | None = None
    extra_body: dict[str, Any] | None = None


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
    # --- FastChat's type-specific fields (api_types.py: used by some types, elsewhere ignored with a warning)
    assistant_id: str | None = None
    folder_id: str | None = Field(default=None, min_length=1)
    fixed_temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    client_name: str | None = None
    # --- extensions
    project_id: str | None = Field(default=None, min_length=1)  # Vertex: Google Cloud project
    location: str | None = Field(default=None, pattern=r"^[a-z0-9-]+$")  # Vertex: region, or "global"
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
        problem = api_type_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

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
                raise ValueError(f"api_base '{shown_url(url)}' is not an http:// or https:// URL")
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
        problems = []
        if self.api_key is not None and self.api_key_env is not None:
            problems.append("api_key and api_key_env are both set; keep only api_key_env")
        if self.anony_only and self.chat:
            problems.append("anony_only is true (battles only) but chat is true; remove one of them")
        if self.text_arena and not self.in_battles and not self.in_chat:
            problems.append(
                "battle and chat are both false, so the model is listed nowhere; remove the entry"
            )
        if self.first_token_timeout_s > self.timeout_s:
            problems.append("first_token_timeout_s is longer than timeout_s (the total limit)")
        problems.extend(entry_problems(self))
        if problems:
            raise ValueError("\n".join(problems))  # one problem per line, split again in _describe
        return self

    # ------------------------------------------------------------------------------- derived values
    @property
    def in_battles(self) -> bool:
        """Sampled for anonymous battles. ``"text-arena": false`` (FastChat) keeps a model out of the text
        arena, and this arena has only text battles and chat."""
        return self.text_arena and (True if self.battle is None else self.battle)

    @property
    def in_chat(self) -> bool:
        return self.text_arena and ((not self.anony_only) if self.chat is None else self.chat)

    def given_bases(self) -> list[str]:
        """The api_base URLs as written in the file (empty when none)."""
        if self.api_base is None:
            return []
        return [self.api_base] if isinstance(self.api_base, str) else list(self.api_base)

    def api_bases(self, location: str | None = None) -> list[str]:
        """The URLs requests go to: the file's, with a FastChat URL of a routed vendor's native API replaced
        by its OpenAI-compatible one; else the type's default (Vertex: the regional endpoint of
        ``location``, resolved by the registry from the entry or the environment)."""
        api_type = API_TYPE_TABLE[self.api_type]
        if api_type.google_adc and self.api_base is None:
            host = vertex_host(location or self.location or "global")
            return [f"https://{host}" + ("/v1" if self.api_type == "anthropic_message_vertex" else "")]
        default = api_type.default_base
        bases = self.given_bases() or ([default] if default else [])
        replaced = [default if default and native_url_replaced(api_type, b) else b for b in bases]
        return list(dict.fromkeys(replaced))  # two native URLs become one

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
    #: one line per routed type, ignored field or unlisted model (also logged as warnings when parsed)
    notices: tuple[str, ...] = ()


_FIELD_NAMES = sorted({f.alias or name for name, f in EndpointEntry.model_fields.items()})


def _describe(key: str, err: Any) -> list[str]:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        field = str(err["loc"][-1])
        known = _FIELD_NAMES if len(err["loc"]) == 1 else sorted(RecommendedConfig.model_fields)
        close = difflib.get_close_matches(field, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known fields: {', '.join(known)})"
        return [f"{key}: unknown field '{loc}'{hint}"]
    if err["type"] == "missing":
        return [f"{key}: {loc} is required"]
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "value_error":
        return [f"{key}: {line}" for line in msg.splitlines()]  # our own messages name the field already
    return [f"{key}: {loc}: {msg}"]


def parse_endpoints(data: object, source: str = "<mapping>") -> EndpointConfig:
    """Validate an already-decoded endpoint mapping; raise EndpointFileError listing every problem."""
    if not isinstance(data, dict):
        raise EndpointFileError(source, ["the file must contain a JSON object keyed by model name"])
    if not data:
        raise EndpointFileError(source, ["the file lists no models"])
    problems: list[str] = []
    notices: list[str] = []
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
            problems.extend(line for err in exc.errors() for line in _describe(key, err))
            continue
        notices.extend(f"{key}: {notice}" for notice in entry_notices(entries[key]))
    if problems:
        raise EndpointFileError(source, problems)
    for notice in notices:
        log.warning("%s: %s", source, notice)
    return EndpointConfig(entries=entries, source=source, notices=tuple(notices))


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
