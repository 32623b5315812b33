"""FastChat api_types routed to a vendor's OpenAI-compatible API (api_types.py, kind "routed"): the openai
provider with each vendor's differences from OpenAI applied to the request.

* ``yandexgpt``: the model is the URI ``gpt://<folder_id>/<model_name>`` (as FastChat builds it);
  ``fixed_temperature`` replaces the temperature (FastChat's field).
* ``nvidia``: a temperature of 0 is sent as 1e-6 (FastChat: NVIDIA's API does not accept 0).
* ``cohere``, ``mistral``: no ``stream_options`` (Cohere's Compatibility API refuses it; Mistral reports usage
  in its last chunk without it, and refuses unknown fields with HTTP 422 rather than 400).
* ``openai_o1``: one non-streaming request as FastChat makes it for o1: system messages dropped, and no
  temperature, top_p or max_tokens (o1 refuses them; ``extra_body`` may set ``max_completion_tokens``).
* ``mistral``, ``reka``, ``p2l``: plain OpenAI chat completions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from arena_app.providers.base import ChatMessage, EndpointTarget, GenerationParams
from arena_app.providers.openai_provider import OpenAIProvider

NVIDIA_MIN_TEMPERATURE = 1e-6
_NO_STREAM_OPTIONS = frozenset({"cohere", "mistral"})


class RoutedOpenAIProvider(OpenAIProvider):
    """One endpoint of a routed type: an :class:`OpenAIProvider` with the vendor's request differences."""

    def __init__(self, target: EndpointTarget, *, api_type: str) -> None:
        super().__init__(target, streaming=api_type != "openai_o1")
        self.api_type = api_type
        if api_type in _NO_STREAM_OPTIONS:
            self._usage_option = False

    def __repr__(self) -> str:
        return f"RoutedOpenAIProvider({self.api_type}, {self._where!r})"

    def _request(self, messages: list[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        if self.api_type == "openai_o1":
            messages = [m for m in messages if m.role != "system"]
        req = super()._request(messages, params)
        options = self.target.options
        if self.api_type == "yandexgpt":
            folder = options.get("folder_id")
            if folder and not req["model"].startswith("gpt://"):
                req["model"] = f"gpt://{folder}/{req['model']}"
            if "fixed_temperature" in options:
                req["temperature"] = float(options["fixed_temperature"])
        elif self.api_type == "nvidia" and req["temperature"] == 0:
            req["temperature"] = NVIDIA_MIN_TEMPERATURE
        elif self.api_type == "openai_o1":
            for name in ("temperature", "top_p", "max_tokens"):
                req.pop(name, None)
        return req


def routed(api_type: str) -> Callable[[EndpointTarget], RoutedOpenAIProvider]:
    """The provider factory of a routed type (for the registry's PROVIDERS table)."""

    def factory(target: EndpointTarget) -> RoutedOpenAIProvider:
        return RoutedOpenAIProvider(target, api_type=api_type)

    factory.__name__ = f"routed_{api_type}"
    return factory
