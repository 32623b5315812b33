"""Where a model's API key comes from: the entry's ``api_key``, its ``api_key_env`` variable, or (for
FastChat compatibility) the vendor's usual variable when the entry names neither."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from arena_app.providers.api_types import API_TYPE_TABLE
from arena_app.providers.endpoints import DEFAULT_API_BASE, EndpointEntry
from arena_app.providers.errors import EndpointFileError

#: key env var used when an entry names neither api_key nor api_key_env (FastChat reads these too)
IMPLICIT_KEY_ENV = {n: t.key_env for n, t in API_TYPE_TABLE.items() if t.key_env is not None}


def key_source(entry: EndpointEntry) -> str:
    if API_TYPE_TABLE[entry.api_type].google_adc:
        return "google ADC"  # Application Default Credentials, read by google-auth at the first request
    if entry.api_key is not None:
        return "inline"
    if entry.api_key_env is not None:
        return f"env {entry.api_key_env}"
    implicit = _implicit_key_env(entry)
    return f"env {implicit} (implicit)" if implicit else "none"


def needs_key(entry: EndpointEntry) -> bool:
    """Whether requests fail without a key: the entry names a key variable, or talks to a vendor's own API
    (whose usual variable would supply it). A local or self-hosted server may need none."""
    return entry.api_key is not None or entry.api_key_env is not None or _implicit_key_env(entry) is not None


def _implicit_key_env(entry: EndpointEntry) -> str | None:
    """The vendor's usual key variable, only for an entry that talks to that vendor's own API: the key must
    never be sent to a third-party or local server just because the variable happens to be set."""
    implicit = IMPLICIT_KEY_ENV.get(entry.api_type)
    default = DEFAULT_API_BASE.get(entry.api_type)
    uses_vendor = entry.api_base is None or entry.api_bases() == [default]
    return implicit if uses_vendor else None


def resolve_key(name: str, entry: EndpointEntry, env: Mapping[str, str], require: bool) -> SecretStr | None:
    if entry.api_key is not None:
        return entry.api_key
    if entry.api_key_env is not None:
        value = env.get(entry.api_key_env)
        if not value:
            if require:
                problem = f"{name}: api_key_env {entry.api_key_env} is not set in the environment"
                raise EndpointFileError("endpoint file", [problem])
            return None
        return SecretStr(value)
    implicit = _implicit_key_env(entry)
    if implicit and env.get(implicit):
        return SecretStr(env[implicit])
    return None
