"""All arena settings in one place.

Every field is read from an environment variable ``ARENA_<FIELD>`` (e.g. ``ARENA_DATABASE_URL``) and has a
command-line flag ``--<field-with-dashes>`` generated from this class by :mod:`arena_app.cli.settings_flags`.
Precedence: CLI flag > environment variable > default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SQLITE_FILE = "arena.db"


class ArenaSettings(BaseSettings):
    """Settings for the arena app, its CLI and its services."""

    model_config = SettingsConfigDict(env_prefix="ARENA_", extra="ignore", validate_default=True)

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_FILE}",
        description="SQLAlchemy database URL. Default: a SQLite file arena.db in the working directory. "
        "Production: postgresql+psycopg://user@host:5432/dbname",
    )
    endpoints_file: Path | None = Field(
        default=None,
        description="Path to api_endpoints.json (FastChat-compatible endpoint registry). "
        "Default: ./api_endpoints.json if it exists.",
    )
    host: str = Field(default="127.0.0.1", description="Address the web app listens on.")
    port: int = Field(default=7860, ge=1, le=65535, description="Port the web app listens on.")
    client_id_salt: SecretStr = Field(
        default=SecretStr(""),
        description="Secret salt for hashing client addresses. If empty, a random salt is generated once "
        "into the file client_id_salt (mode 0600) under --secrets-dir, never into the database. Several "
        "hosts serving one database must share it (set this, or share the file).",
    )
    # NoDecode: the env var is comma-separated like the flag, not JSON (see _comma_separated)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated proxy addresses/CIDRs whose X-Forwarded-For header is trusted.",
    )
    max_turns: int = Field(default=10, ge=1, description="Most user turns in one battle or chat.")
    resume_ttl_s: int = Field(
        default=86400,
        ge=60,
        le=30 * 86400,
        description="Seconds a browser's saved battle token stays valid: a reload within it resumes the "
        "battle (on any replica); the token is signed with the secret resume_token_key.",
    )
    max_input_chars: int = Field(default=8000, ge=1, description="Longest user message, in characters.")
    max_new_tokens: int = Field(default=1024, ge=1, description="Default output token limit per answer.")
    identity_words: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra comma-separated words (model or organization names) whose mention in an answer "
        "excludes a battle vote as an identity leak; names from the endpoint file are always included.",
    )
    min_votes: int = Field(
        default=20,
        ge=0,
        description="Models with fewer counted votes are shown apart as preliminary on the leaderboard "
        "(and left out of `arena leaderboard fit|show` tables); 0 marks none.",
    )
    daily_vote_cap: int = Field(
        default=0,
        ge=0,
        description="Leaderboard recompute: count at most this many votes per judge (client hash) and UTC "
        "day, the first ones (FastChat's --daily-vote-per-user); 0 = no cap. The votes are kept.",
    )
    excluded_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Leaderboard recompute: comma-separated models whose battles are left out (FastChat's "
        "--exclude-models). The votes are kept.",
    )
    recompute_every: float = Field(
        default=60.0,
        ge=0.0,
        description="`arena serve` brings the leaderboard up to date every this many seconds (only the new "
        "votes are read; nothing is computed or stored when no counted vote changed); 0 turns it off.",
    )
    style_recompute_every: float = Field(
        default=3600.0,
        ge=0.0,
        description="How often that refresh also recomputes the style-controlled ratings (a full pass over "
        "every vote), in seconds; 0 never.",
    )
    sampling: Literal["uniform", "weighted", "active"] = Field(
        default="weighted",
        description="How anonymous battles pick their pair: weighted (by endpoint weight), uniform (every "
        "pair alike; the kill switch) or active (where a vote shrinks the rating intervals most, from the "
        "latest snapshot). Each battle records its inverse-propensity weight; see docs/leaderboard.md.",
    )
    sampling_floor: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Active sampling: every pair keeps at least this share of its uniform probability "
        "(1 = uniform).",
    )
    rate_limit_battles: str = Field(
        default="60/hour",
        description="Most battles (anonymous and side-by-side) one client may start, per salted client "
        "hash, shared by every replica through the database: the limits notation N/second|minute|hour|day, "
        "several rules separated by ';', or 'off'.",
    )
    rate_limit_votes: str = Field(
        default="60/hour",
        description="Most votes one client may cast, per salted client hash, shared by every replica "
        "through the database (same notation as --rate-limit-battles, or 'off').",
    )
    concurrency_limit: int = Field(
        default=64, ge=1, description="Most concurrent generation events the web app runs at once."
    )
    demo: bool = Field(
        default=False,
        description="Start local demo workers (SmolLM2-135M-Instruct from PyPI) so the arena runs "
        "offline without API keys.",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "llm-arena",
        description="Where converted demo models and other caches live (never inside the repository).",
    )
    secrets_dir: Path | None = Field(
        default=None,
        description="Directory of the secrets the app generates (the client-hash salt), one 0600 file each. "
        "Default: CACHE_DIR/secrets.",
    )

    share_links: bool = Field(
        default=True,
        description="After a vote, offer a read-only permalink to the battle (its conversation, both model "
        "names and the vote; never who voted). Off: no links are offered and existing ones stop working.",
    )
    example_prompts: str = Field(
        default="Explain quantum computing in two sentences.|Write a haiku about the sea.|"
        "What is the difference between a list and a tuple in Python?",
        description="Example prompts offered on an empty battle, separated by '|' (empty: none).",
    )
    terms_of_use: str = Field(
        default="",
        description="Terms of use (Markdown) a visitor accepts once, in their browser, before the first "
        "battle or chat. Empty: the page asks nothing.",
    )

    @property
    def example_prompt_list(self) -> list[str]:
        """``example_prompts`` split at '|', blanks dropped (at most 8, each at most 500 characters)."""
        parts = [p.strip()[:500] for p in self.example_prompts.split("|")]
        return [p for p in parts if p][:8]

    @property
    def secrets_directory(self) -> Path:
        """``secrets_dir``, else ``cache_dir/secrets``."""
        return self.secrets_dir if self.secrets_dir is not None else Path(self.cache_dir) / "secrets"

    @field_validator("rate_limit_battles", "rate_limit_votes")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        """Refuse a limit that cannot be parsed at start (the error names the bad part); keep it canonical."""
        from arena_app.services.rate_limit_rules import parse_rate_limit

        return str(parse_rate_limit(value))

    @field_validator("trusted_proxies", "identity_words", "excluded_models", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``a, b,c`` (environment variable or flag) -> ``["a", "b", "c"]``; lists pass through."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


def load_settings(**overrides: object) -> ArenaSettings:
    """Build settings from the environment, with explicit (e.g. CLI) overrides taking precedence."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return ArenaSettings(**clean)  # type: ignore[arg-type]
