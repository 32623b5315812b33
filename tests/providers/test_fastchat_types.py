"""Every FastChat api_type in an endpoint file: served, routed through the openai provider (with the vendor's
request differences, checked on a loopback OpenAI server through the real SDK), or refused with the fix.
Also FastChat's type-specific fields and the text-arena / vision-arena / anony_only flags."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arena_app.cli.main import main as arena_main
from arena_app.providers.api_types import API_TYPE_TABLE, ROUTED, SERVED
from arena_app.providers.base import ChatMessage, Completion, GenerationParams, TextDelta
from arena_app.providers.endpoints import API_TYPES, parse_endpoints
from arena_app.providers.errors import EndpointFileError
from arena_app.providers.registry import PROVIDERS, ModelRegistry
from tests.fakes.openai_server import OpenAIFakeServer, Reply

#: FastChat's api_types (get_api_provider_stream_iter), as measured for issue 12: 20 names
FASTCHAT_TYPES = {
    "openai", "openai_no_stream", "openai_o1", "openai_assistant", "anthropic", "anthropic_message",
    "anthropic_message_vertex", "gemini", "gemini_no_stream", "mistral", "nvidia", "ai2", "vertex",
    "yandexgpt", "cohere", "reka", "column", "metagen", "bailing", "p2l",
}  # fmt: skip
MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi")]
KEY = "sk-routed-0123456789abcdef"


@pytest.fixture
def srv() -> Iterator[OpenAIFakeServer]:
    with OpenAIFakeServer(api_key=KEY) as server:
        server.default = Reply.text("Routed answer")
        yield server


def test_every_fastchat_type_is_served_routed_or_refused() -> None:
    assert set(API_TYPE_TABLE) >= FASTCHAT_TYPES
    assert set(API_TYPE_TABLE) - FASTCHAT_TYPES == {"bard"}  # gone from FastChat; refused with its fix
    assert set(PROVIDERS) == set(API_TYPES) == set(SERVED) | set(ROUTED)
    refused = set(API_TYPE_TABLE) - set(API_TYPES)
    assert refused == {"openai_assistant", "ai2", "column", "metagen", "bailing", "bard"}


@pytest.mark.parametrize("api_type", sorted(set(API_TYPE_TABLE) - set(API_TYPES)))
def test_refused_types_name_the_fix(api_type: str) -> None:
    with pytest.raises(EndpointFileError) as caught:
        parse_endpoints({"m": {"api_type": api_type, "api_base": "https://vendor.example/api"}}, "f.json")
    (problem,) = caught.value.problems
    assert problem.startswith(f"m: api_type '{api_type}': ")
    assert "use api_type openai" in problem or "use api_type gemini" in problem, problem


@pytest.mark.parametrize(
    "old_name", ["palm", "gemini_pro", "no_stream_openai", "vertex_anthropic", "anthropic_o1"]
)
def test_names_fastchat_never_had_are_unknown(old_name: str) -> None:
    with pytest.raises(EndpointFileError, match=f"api_type '{old_name}' is not one of openai, "):
        parse_endpoints({"m": {"api_type": old_name}})


@pytest.mark.parametrize(
    ("api_type", "host", "key_env"),
    [
        ("mistral", "api.mistral.ai", "MISTRAL_API_KEY"),
        ("nvidia", "integrate.api.nvidia.com", "NVIDIA_API_KEY"),
        ("reka", "api.reka.ai", "REKA_API_KEY"),
        ("cohere", "api.cohere.ai", "CO_API_KEY"),
        ("openai_o1", "api.openai.com", "OPENAI_API_KEY"),
        ("yandexgpt", "llm.api.cloud.yandex.net", "YANDEXGPT_API_KEY"),
    ],
)
def test_routed_types_default_to_the_vendors_openai_compatible_url_with_a_notice(
    api_type: str, host: str, key_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    entry: dict[str, Any] = (
        {"api_type": api_type, "folder_id": "b1gfolder"}
        if api_type == "yandexgpt"
        else {"api_type": api_type}
    )
    with caplog.at_level(logging.WARNING, logger="arena_app.providers"):
        reg = ModelRegistry.from_mapping({"m": entry}, env={key_env: "vendor-key"})
    assert reg.get("m").endpoints == (host,)
    assert reg.get("m").api_type == api_type
    assert {h.name: h for h in reg.health_report()}["m"].key_source == f"env {key_env} (implicit)"
    (notice,) = [n for n in reg.notices if "routed" in n]
    assert notice.startswith(f"m: api_type {api_type} is routed through the openai provider to ")
    assert f"https://{host}" in notice
    assert notice in caplog.text
    reg.close()


@pytest.mark.parametrize(
    ("api_type", "fastchat_url", "host"),
    [
        (
            "yandexgpt",
            "https://llm.api.cloud.yandex.net/foundationModels/v1/completion",
            "llm.api.cloud.yandex.net",
        ),
        ("nvidia", "https://api.nvcf.nvidia.com/v2/nvcf/pexec/functions", "integrate.api.nvidia.com"),
        ("cohere", "https://api.cohere.ai", "api.cohere.ai"),
    ],
)
def test_a_fastchat_url_of_the_native_api_is_replaced_and_keeps_the_vendor_key(
    api_type: str, fastchat_url: str, host: str
) -> None:
    entry = {"api_type": api_type, "api_base": fastchat_url, "folder_id": "b1g"}
    if api_type != "yandexgpt":
        del entry["folder_id"]
    config = parse_endpoints({"m": entry})
    bases = config.entries["m"].api_bases()
    assert bases == [API_TYPE_TABLE[api_type].default_base] and host in bases[0]
    assert any("is the vendor's native API, not OpenAI-compatible" in n for n in config.notices)
    key_env = API_TYPE_TABLE[api_type].key_env
    assert key_env is not None
    reg = ModelRegistry.from_mapping({"m": entry}, env={key_env: "vendor-key"})
    assert {h.name: h for h in reg.health_report()}["m"].key_configured  # still the vendor's own host
    reg.close()


def stream_once(reg: ModelRegistry, name: str, params: GenerationParams | None = None) -> str:
    events = list(reg.stream(name, MESSAGES, params))
    assert isinstance(events[-1], Completion)
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def routed_entry(api_type: str, srv: OpenAIFakeServer, **extra: Any) -> dict[str, Any]:
    return {"api_type": api_type, "api_base": srv.base_url, "api_key": KEY, "model_name": "up-model", **extra}


def test_a_given_api_base_wins_and_vendor_keys_never_go_there(srv: OpenAIFakeServer) -> None:
    reg = ModelRegistry.from_mapping(
        {"m": routed_entry("mistral", srv), "k": {"api_type": "mistral", "api_base": srv.base_url}},
        env={"MISTRAL_API_KEY": "sk-vendor-key-must-not-leak"},
    )
    assert stream_once(reg, "m") == "Routed answer"
    assert srv.requests[0].path == "/v1/chat/completions"
    assert any("at the api_base given" in n for n in reg.notices)
    assert {h.name: h for h in reg.health_report()}["k"].key_source == "none"
    reg.close()


@pytest.mark.parametrize("api_type", ["mistral", "cohere"])
def test_mistral_and_cohere_are_not_sent_stream_options(srv: OpenAIFakeServer, api_type: str) -> None:
    reg = ModelRegistry.from_mapping({"m": routed_entry(api_type, srv)})
    assert stream_once(reg, "m") == "Routed answer"
    body = srv.requests[0].body
    assert body["stream"] is True and "stream_options" not in body
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("up-model", 0.7, 1024)
    reg.close()


@pytest.mark.parametrize("api_type", ["nvidia", "reka", "p2l"])
def test_other_routed_types_are_plain_streaming_chat_completions(
    srv: OpenAIFakeServer, api_type: str
) -> None:
    reg = ModelRegistry.from_mapping({"m": routed_entry(api_type, srv)})
    assert stream_once(reg, "m", GenerationParams(temperature=0.0)) == "Routed answer"
    body = srv.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    # FastChat: NVIDIA's API does not accept temperature 0
    assert body["temperature"] == (1e-6 if api_type == "nvidia" else 0.0)
    reg.close()


def test_p2l_needs_the_routers_url() -> None:
    with pytest.raises(EndpointFileError, match="api_type p2l needs api_base: the URL of your P2L router"):
        parse_endpoints({"router": {"api_type": "p2l"}})


def test_yandexgpt_builds_the_model_uri_and_honours_fixed_temperature(srv: OpenAIFakeServer) -> None:
    reg = ModelRegistry.from_mapping(
        {
            "yagpt": routed_entry(
                "yandexgpt", srv, model_name="yandexgpt/latest", folder_id="b1gabc", fixed_temperature=0.3
            ),
            "uri": routed_entry("yandexgpt", srv, model_name="gpt://b1gother/yandexgpt-lite/latest"),
        }
    )
    stream_once(reg, "yagpt", GenerationParams(temperature=1.2))
    stream_once(reg, "uri")
    first, second = (r.body for r in srv.requests)
    assert (first["model"], first["temperature"]) == ("gpt://b1gabc/yandexgpt/latest", 0.3)
    assert second["model"] == "gpt://b1gother/yandexgpt-lite/latest"
    assert reg.get("yagpt").model_name == "yandexgpt/latest"  # identity words stay the plain name
    reg.close()
    with pytest.raises(EndpointFileError, match="api_type yandexgpt needs folder_id"):
        parse_endpoints({"y": {"api_type": "yandexgpt", "model_name": "yandexgpt/latest"}})


def test_openai_o1_is_one_request_without_system_prompt_or_sampling(srv: OpenAIFakeServer) -> None:
    reg = ModelRegistry.from_mapping({"o1": routed_entry("openai_o1", srv)})
    assert stream_once(reg, "o1") == "Routed answer"
    body = srv.requests[0].body
    assert "stream" not in body and body["messages"] == [{"role": "user", "content": "Hi"}]
    assert not {"temperature", "top_p", "max_tokens", "stream_options"} & set(body)
    assert any("system messages are dropped" in n for n in reg.notices)
    reg.close()


def test_reka_online_suffix_is_refused() -> None:
    with pytest.raises(EndpointFileError, match="'-online' suffix .* has no equivalent"):
        parse_endpoints({"r": {"api_type": "reka", "model_name": "reka-core-online"}})


def test_type_specific_fields_are_used_or_ignored_with_a_warning() -> None:
    config = parse_endpoints(
        {
            "a": {"api_type": "openai", "assistant_id": "asst_1", "fixed_temperature": 0.5, "folder_id": "f"},
            "c": {"api_type": "cohere", "client_name": "my-arena"},
            "y": {"api_type": "yandexgpt", "folder_id": "b1g", "fixed_temperature": 0.5},
            "g": {"api_type": "gemini", "project_id": "p"},
        }
    )
    ignored = [n for n in config.notices if "is ignored" in n]
    assert sorted(n.split(":")[0] + ":" + n.split("'")[1] for n in ignored) == [
        "a:assistant_id",
        "a:fixed_temperature",
        "a:folder_id",
        "c:client_name",
        "g:project_id",
    ]
    assert any("FastChat uses it only for api_type openai_assistant" in n for n in ignored)
    with pytest.raises(EndpointFileError, match="unknown field 'assistant'"):
        parse_endpoints({"a": {"api_type": "openai", "assistant": "x"}})


def test_text_arena_false_keeps_a_model_out_of_battles_and_chat() -> None:
    base = {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"}
    reg = ModelRegistry.from_mapping(
        {
            "vision-only": {**base, "text-arena": False, "vision-arena": True},
            "both": {**base, "vision-arena": True},
            "battle-only": {**base, "anony_only": True},
            "text": base,
        }
    )
    assert [m.name for m in reg.models()] == ["vision-only", "both", "battle-only", "text"]
    assert [m.name for m in reg.battle_models()] == ["both", "battle-only", "text"]
    assert [m.name for m in reg.chat_models()] == ["both", "text"]
    vision = reg.get("vision-only")
    assert (vision.text_arena, vision.vision_arena, vision.battle, vision.chat) == (False, True, False, False)
    assert any(n.startswith('vision-only: "text-arena" is false (a vision-arena model)') for n in reg.notices)
    reg.close()


def test_arena_prints_every_problem_of_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARENA_DEBUG", raising=False)
    data = {f"m{i}": {"api_type": t} for i, t in enumerate(["ai2", "column", "opnai", "bard", "metagen"])}
    data["ok"] = {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"}
    path = tmp_path / "api_endpoints.json"
    path.write_text(json.dumps(data))
    assert arena_main(["models", "--endpoints-file", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"arena: error: {path}: 5 problems:"
    assert [line.split(":")[0].strip() for line in err[1:]] == ["m0", "m1", "m2", "m3", "m4"]
    assert "(did you mean 'openai'?)" in err[3]
