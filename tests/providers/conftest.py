"""Fixtures for provider tests: loopback fake vendor servers (real HTTP, real SDKs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.openai_server import OpenAIFakeServer

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"


@pytest.fixture
def openai_srv() -> Iterator[OpenAIFakeServer]:
    with OpenAIFakeServer(api_key=OPENAI_KEY) as srv:
        yield srv


@pytest.fixture
def anthropic_srv() -> Iterator[AnthropicFakeServer]:
    with AnthropicFakeServer(api_key=ANTHROPIC_KEY) as srv:
        yield srv
