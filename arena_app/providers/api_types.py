"""Every ``api_type`` a FastChat endpoint file may name, and what this arena does with it.

FastChat dispatches on ``api_type`` in ``get_api_provider_stream_iter`` (``fastchat/serve/api_provider.py``).
Its current list, as read for issue 12 (December 2026; the search index's copy of that file plus the types
FastChat HEAD was measured with: ``bard`` is gone, ``p2l`` is new), is the 20 names below. Each is one of:

* **served**: a provider module of ours speaks the vendor's API through its official SDK;
* **routed**: the vendor also offers an OpenAI-compatible API, so the ``openai`` provider talks to it (a
  one-line notice says so when the file is loaded; a user-given ``api_base`` wins, except that a FastChat URL
  of the vendor's *native* API is replaced by its OpenAI-compatible one, which the notice names);
* **refused**: the entry is rejected with a message naming the fix.

docs/providers.md lists the same table with the vendors' documentation for each OpenAI-compatible URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

Kind = Literal["served", "routed", "refused"]

#: the fix for vendors whose API is neither served nor OpenAI-compatible
_PROXY_FIX = (
    "serve it behind an OpenAI-compatible proxy (for example LiteLLM's proxy server, or a small adapter of "
    "your own) and use api_type openai with the proxy's URL as api_base"
)


@dataclass(frozen=True)
class ApiType:
    name: str
    kind: Kind
    #: default api_base (None: the entry must give one)
    default_base: str | None = None
    #: environment variable FastChat reads the key from (used only with the vendor's own URL)
    key_env: str | None = None
    #: routed: where requests go, for the notice; refused: why, and the fix
    note: str = ""
    #: hosts of the vendor's native (not OpenAI-compatible) API that FastChat files point at
    native_hosts: tuple[str, ...] = ()
    #: FastChat fields this type uses (others of the type-specific fields are ignored with a warning)
    fields: tuple[str, ...] = ()
    #: whether the entry authenticates with Google Application Default Credentials instead of a key
    google_adc: bool = False


_OPENAI = "https://api.openai.com/v1"
_ANTHROPIC = "https://api.anthropic.com"
_GEMINI = "https://generativelanguage.googleapis.com"

API_TYPE_TABLE: dict[str, ApiType] = {
    t.name: t
    for t in (
        # ---------------------------------------------------------------- served natively
        ApiType("openai", "served", _OPENAI, "OPENAI_API_KEY"),
        ApiType("openai_no_stream", "served", _OPENAI, "OPENAI_API_KEY"),
        ApiType("anthropic_message", "served", _ANTHROPIC, "ANTHROPIC_API_KEY"),
        ApiType("anthropic", "served", _ANTHROPIC, "ANTHROPIC_API_KEY"),
        ApiType("gemini", "served", _GEMINI, "GEMINI_API_KEY"),
        ApiType("gemini_no_stream", "served", _GEMINI, "GEMINI_API_KEY"),
        ApiType("vertex", "served", google_adc=True, fields=("project_id", "location")),
        ApiType("anthropic_message_vertex", "served", google_adc=True, fields=("project_id", "location")),
        # ---------------------------------------------------------------- routed through the openai provider
        ApiType(
            "mistral",
            "routed",
            "https://api.mistral.ai/v1",
            "MISTRAL_API_KEY",
            "Mistral's OpenAI-compatible API",
        ),
        ApiType(
            "nvidia",
            "routed",
            "https://integrate.api.nvidia.com/v1",
            "NVIDIA_API_KEY",
            "the NVIDIA API catalog's OpenAI-compatible API",
            native_hosts=("api.nvcf.nvidia.com",),
        ),
        ApiType(
            "yandexgpt",
            "routed",
            "https://llm.api.cloud.yandex.net/v1",
            "YANDEXGPT_API_KEY",
            "Yandex AI Studio's OpenAI-compatible API",
            native_hosts=("llm.api.cloud.yandex.net",),
            fields=("folder_id", "fixed_temperature"),
        ),
        ApiType("reka", "routed", "https://api.reka.ai/v1", "REKA_API_KEY", "Reka's OpenAI-compatible API"),
        ApiType(
            "cohere",
            "routed",
            "https://api.cohere.ai/compatibility/v1",
            "CO_API_KEY",
            "Cohere's OpenAI-compatible Compatibility API",
            native_hosts=("api.cohere.ai", "api.cohere.com"),
        ),
        ApiType("openai_o1", "routed", _OPENAI, "OPENAI_API_KEY", "OpenAI, non-streaming"),
        ApiType("p2l", "routed", None, None, "your P2L router's OpenAI-compatible API"),
        # ---------------------------------------------------------------- refused with the fix
        ApiType(
            "openai_assistant",
            "refused",
            note="OpenAI's Assistants API (stateful threads per assistant_id) is not supported; use api_type "
            "openai with the assistant's model (its instructions as the model's system prompt), or "
            + _PROXY_FIX,
            fields=("assistant_id",),
        ),
        ApiType(
            "ai2",
            "refused",
            note="AI2's InferD API has its own protocol; serve the model with vLLM (or another "
            "OpenAI-compatible server) and use api_type openai, or " + _PROXY_FIX,
        ),
        ApiType("column", "refused", note="Column's API has its own protocol; " + _PROXY_FIX),
        ApiType("metagen", "refused", note="Meta's MetaGen API has its own protocol; " + _PROXY_FIX),
        ApiType("bailing", "refused", note="Ant Group's Bailing API has its own protocol; " + _PROXY_FIX),
        ApiType(
            "bard",
            "refused",
            note="Google retired the Bard/PaLM API (FastChat no longer has this type); use api_type gemini",
        ),
    )
}

#: FastChat's type-specific fields: which types use each (anywhere else they are ignored with a warning)
TYPE_SPECIFIC_FIELDS = ("assistant_id", "folder_id", "fixed_temperature", "client_name")

#: why a type-specific field is ignored where it is (shown in the warning)
IGNORED_BECAUSE = {
    "assistant_id": "FastChat uses it only for api_type openai_assistant",
    "folder_id": "FastChat uses it only for api_type yandexgpt",
    "fixed_temperature": "FastChat uses it only for api_type yandexgpt; set recommended_config.temperature",
    "client_name": "it names the caller to Cohere's own SDK (an X-Client-Name header), which the "
    "OpenAI-compatible route does not use",
    "project_id": "only the Vertex types (vertex, anthropic_message_vertex) use it",
    "location": "only the Vertex types (vertex, anthropic_message_vertex) use it",
}

SERVED = tuple(n for n, t in API_TYPE_TABLE.items() if t.kind == "served")
ROUTED = tuple(n for n, t in API_TYPE_TABLE.items() if t.kind == "routed")
USABLE = SERVED + ROUTED


def native_url_replaced(api_type: ApiType, url: str) -> bool:
    """Whether ``url`` points at the vendor's native API (FastChat's URL), which the route cannot use."""
    if not api_type.native_hosts:
        return False
    parts = urlsplit(url)
    if parts.hostname not in api_type.native_hosts:
        return False
    # the OpenAI-compatible URL may live on the same host (Yandex, Cohere): only other paths are native
    default_path = urlsplit(api_type.default_base or "").path.rstrip("/")
    return parts.path.rstrip("/") != default_path


def vertex_host(location: str) -> str:
    """The Vertex AI host for ``location`` as both Google SDKs choose it (global, multi-region, region)."""
    if location == "global":
        return "aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"aiplatform.{location}.rep.googleapis.com"
    return f"{location}-aiplatform.googleapis.com"
