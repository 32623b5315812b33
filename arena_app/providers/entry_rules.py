"""Per-type rules of the endpoint file: which api_type values are usable, what each type requires, and the
notices (routed types, ignored FastChat fields, models kept out of the text arena) shown when it is loaded.

The rules are plain functions over an :class:`~arena_app.providers.endpoints.EndpointEntry`, so that
endpoints.py stays about the file's shape and this module about FastChat's types (api_types.py).
"""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING

from arena_app.providers.api_types import (
    API_TYPE_TABLE,
    IGNORED_BECAUSE,
    TYPE_SPECIFIC_FIELDS,
    USABLE,
    native_url_replaced,
)

if TYPE_CHECKING:
    from arena_app.providers.endpoints import EndpointEntry

_VERTEX_FIELDS = ("project_id", "location")


def api_type_problem(value: str) -> str | None:
    """None for a usable type; else the message: the fix for a refused FastChat type, or the known list."""
    if value in USABLE:
        return None
    known = API_TYPE_TABLE.get(value)
    if known is not None:
        return f"api_type '{value}': {known.note}"
    message = f"api_type '{value}' is not one of {', '.join(USABLE)}"
    close = difflib.get_close_matches(value, list(API_TYPE_TABLE), n=1)
    return message + (f" (did you mean '{close[0]}'?)" if close else "")


def entry_problems(entry: EndpointEntry) -> list[str]:
    """What is wrong with an entry of a usable type (its fields already have valid types)."""
    api_type = API_TYPE_TABLE[entry.api_type]
    problems = []
    if api_type.kind == "routed" and api_type.default_base is None and entry.api_base is None:
        problems.append(
            f"api_type {entry.api_type} needs api_base: the URL of your P2L router "
            "(python -m route.openai_server), ending in /v1"
        )
    if entry.api_type in ("anthropic", "anthropic_message"):
        for url in entry.given_bases():
            if url.rstrip("/").endswith("/v1") or url.rstrip("/").endswith("/v1/messages"):
                problems.append(
                    f"api_base '{shown_url(url)}' must not end in /v1 for api_type {entry.api_type} "
                    "(the anthropic SDK appends /v1/messages itself); use e.g. https://api.anthropic.com"
                )
    uri_given = (entry.model_name or "").startswith("gpt://")
    if entry.api_type == "yandexgpt" and entry.folder_id is None and not uri_given:
        problems.append(
            "api_type yandexgpt needs folder_id (FastChat's field: your Yandex Cloud folder) or a "
            "model_name of the form gpt://FOLDER/MODEL"
        )
    if entry.api_type == "reka" and (entry.model_name or "").endswith("-online"):
        problems.append(
            f"model_name '{entry.model_name}': FastChat's '-online' suffix (Reka's web search) has no "
            "equivalent in Reka's OpenAI-compatible API; remove the suffix"
        )
    if api_type.google_adc and (entry.api_key is not None or entry.api_key_env is not None):
        problems.append(
            f"api_type {entry.api_type} authenticates with Google Application Default Credentials, not an "
            "API key: remove api_key / api_key_env and set GOOGLE_APPLICATION_CREDENTIALS (a service "
            "account key file) or run `gcloud auth application-default login`"
        )
    return problems


def entry_notices(entry: EndpointEntry) -> list[str]:
    """One-line notices for a valid entry (the caller prefixes the model key)."""
    api_type = API_TYPE_TABLE[entry.api_type]
    notices = []
    if api_type.kind == "routed":
        given = entry.given_bases()
        replaced = [url for url in given if native_url_replaced(api_type, url)]
        where = "at the api_base given" if given and not replaced else f"at {api_type.default_base}"
        notice = f"api_type {entry.api_type} is routed through the openai provider to {api_type.note} {where}"
        if replaced:
            native = shown_url(replaced[0])
            notice += f" (the file's api_base {native} is the vendor's native API, not OpenAI-compatible)"
        if entry.api_type == "openai_o1":
            notice += "; system messages are dropped and temperature/top_p are not sent (o1 refuses them)"
        notices.append(notice)
    used = set(api_type.fields)
    for name in (*TYPE_SPECIFIC_FIELDS, *_VERTEX_FIELDS):
        if getattr(entry, name) is not None and name not in used:
            notices.append(
                f"field '{name}' is ignored for api_type {entry.api_type}: {IGNORED_BECAUSE[name]}"
            )
    if not entry.text_arena:
        kind = " (a vision-arena model)" if entry.vision_arena else ""
        notices.append(
            f'"text-arena" is false{kind}: this arena has only text battles and chat, so the model is kept '
            "(arena models lists it) but offered nowhere"
        )
    return notices


def shown_url(url: str) -> str:
    """``url`` for an error message: errors are logged and shown, so a ``user:password@`` part is masked."""
    return re.sub(r"^([^/@\s]*//)?[^/@\s]*@", lambda m: (m.group(1) or "") + "***@", url)
