"""Claude on Google Vertex AI (api_type ``anthropic_message_vertex``) through the anthropic SDK's
``AnthropicVertex`` client (``pip install anthropic[vertex]``, which brings google-auth).

The request is the Messages request of :class:`~arena_app.providers.anthropic_provider.AnthropicProvider`;
the SDK moves the model into the URL
(``{base}/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:streamRawPredict``) and
adds ``anthropic_version: vertex-2023-10-16``. Authentication is Google Application Default Credentials,
loaded and refreshed by the SDK at the first request (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's ADC
file, or the metadata server on Google Cloud); project and region come from ``EndpointTarget.options``
(target_options.py).
"""

from __future__ import annotations

from typing import Any

import anthropic

from arena_app.providers.anthropic_provider import AnthropicProvider, _events
from arena_app.providers.base import ChatMessage, EndpointTarget, GenerationParams, UpstreamCall
from arena_app.providers.google_cloud import google_call
from arena_app.providers.sdk_client import client_options, describe


class AnthropicVertexProvider(AnthropicProvider):
    """One Vertex AI endpoint (one api_base) of a Claude model."""

    def __init__(self, target: EndpointTarget) -> None:  # noqa: D107 - replaces the parent's client
        self.target = target
        self._key = ""
        self._secrets = ()
        options = client_options(target, anthropic.DefaultHttpxClient())
        self._client = anthropic.AnthropicVertex(  # type: ignore[assignment]
            region=target.options["location"], project_id=target.options["project_id"], **options
        )
        self._where = describe(target)

    def __repr__(self) -> str:
        return f"AnthropicVertexProvider({self._where!r})"

    def call(self, messages: list[ChatMessage], params: GenerationParams) -> UpstreamCall[Any]:
        req = self._request(messages, params)

        def open_stream() -> Any:
            return self._client.messages.create(**req, stream=True)

        return google_call(self.target, self._secrets, open_stream, _events)
