"""Endpoint-file parsing: FastChat files accepted unchanged, extensions, and precise error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arena_app.providers.base import GenerationParams, Timeouts
from arena_app.providers.endpoints import load_endpoint_file, parse_endpoints
from arena_app.providers.errors import EndpointFileError
from arena_app.providers.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[2]

# The shape FastChat's --register-api-endpoint-file takes (field for field, inline keys included).
FASTCHAT_FILE = """{
    "gpt-4o-2024-05-13": {
        "model_name": "gpt-4o-2024-05-13",
        "api_base": "https://api.openai.com/v1",
        "api_type": "openai",
        "api_key": "sk-fastchat-inline-key-0001",
        "anony_only": false,
        "recommended_config": {"temperature": 0.7, "top_p": 1.0},
        "text-arena": true,
        "vision-arena": false
    },
    "claude-3-5-sonnet-20240620": {
        "model_name": "claude-3-5-sonnet-20240620",
        "api_base": "https://api.anthropic.com",
        "api_type": "anthropic_message",
        "api_key": "sk-ant-fastchat-inline-0002",
        "anony_only": false,
        "recommended_config": {"temperature": 0.7, "top_p": 1.0, "max_new_tokens": 2048},
        "text-arena": true,
        "vision-arena": true
    },
    "llama-3-70b-instruct": {
        "model_name": "meta-llama/Meta-Llama-3-70B-Instruct",
        "api_base": "http://localhost:8000/v1",
        "api_type": "openai",
        "api_key": "EMPTY",
        "anony_only": true,
        "custom_system_prompt": true,
        "recommended_config": {"extra_body": {"repetition_penalty": 1.05}}
    }
}"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "api_endpoints.json"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(data: Any) -> list[str]:
    with pytest.raises(EndpointFileError) as info:
        parse_endpoints(data, "api_endpoints.json")
    return info.value.problems


def test_fastchat_file_is_accepted_unchanged(tmp_path: Path) -> None:
    reg = ModelRegistry.from_file(write(tmp_path, FASTCHAT_FILE), env={})
    gpt, claude, llama = reg.models()
    assert (gpt.name, gpt.api_type, gpt.battle, gpt.chat) == ("gpt-4o-2024-05-13", "openai", True, True)
    assert gpt.weight == 1.0  # FastChat has no weights in the file; ours default to 1, not 0/NaN
    assert claude.api_type == "anthropic_message" and claude.vision_arena
    assert claude.params == GenerationParams(temperature=0.7, top_p=1.0, max_new_tokens=2048)
    assert (llama.battle, llama.chat) == (True, False)  # anony_only: battles only
    assert llama.model_name == "meta-llama/Meta-Llama-3-70B-Instruct"
    assert llama.custom_system_prompt
    assert llama.params.extra_body == {"repetition_penalty": 1.05}
    assert [m.name for m in reg.chat_models()] == ["gpt-4o-2024-05-13", "claude-3-5-sonnet-20240620"]
    assert all(h.key_configured for h in reg.health_report())


def test_example_file_is_valid_and_has_no_literal_key() -> None:
    path = REPO / "api_endpoints.example.json"
    config = load_endpoint_file(path)
    assert "api_key" not in path.read_text().replace("api_key_env", "")
    types = {e.api_type for e in config.entries.values()}
    assert {"openai", "anthropic_message"} <= types
    assert any(len(e.api_bases()) >= 2 for e in config.entries.values())
    reg = ModelRegistry.from_file(path, env={"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-ant-x"})
    assert len(reg.battle_models()) >= 3


def test_extensions_are_read(tmp_path: Path) -> None:
    data = {
        "m": {
            "api_type": "openai",
            "api_base": ["http://a:1/v1", "http://b:2/v1"],
            "weight": 2.5,
            "organization": "Org",
            "license": "MIT",
            "link": "https://x",
            "description": "d",
            "max_concurrency": 3,
            "queue_timeout_s": 4,
            "timeout_s": 50,
            "connect_timeout_s": 2,
            "first_token_timeout_s": 20,
            "retries": 2,
            "battle": False,
            "chat": True,
        }
    }
    entry = parse_endpoints(data).entries["m"]
    assert entry.api_bases() == ["http://a:1/v1", "http://b:2/v1"]
    assert entry.timeouts() == Timeouts(connect_s=2, first_token_s=20, total_s=50)
    assert (entry.in_battles, entry.in_chat, entry.weight, entry.max_concurrency) == (False, True, 2.5, 3)
    assert entry.model_name is None  # defaults to the key in the registry
    reg = ModelRegistry.from_mapping(data)
    assert reg.get("m").model_name == "m" and reg.get("m").endpoints == ("a:1", "b:2")


def test_default_api_base_per_type() -> None:
    reg = ModelRegistry.from_mapping({"o": {"api_type": "openai"}, "a": {"api_type": "anthropic"}}, env={})
    assert reg.get("o").endpoints == ("api.openai.com",)
    assert reg.get("a").endpoints == ("api.anthropic.com",)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"api_type": "opnai"},
            "gpt-4o: api_type 'opnai' is not one of openai, openai_no_stream, anthropic_message, anthropic, "
            "gemini,",
        ),
        ({"api_type": "opnai"}, "(did you mean 'openai'?)"),
        (
            {"api_type": "ai2"},
            "gpt-4o: api_type 'ai2': AI2's InferD API has its own protocol; serve the model with vLLM",
        ),
        (
            {"api_type": "openai", "api_bse": "http://x"},
            "gpt-4o: unknown field 'api_bse' (did you mean 'api_base'?)",
        ),
        (
            {"api_type": "openai", "recommended_config": {"temprature": 1}},
            "gpt-4o: unknown field 'recommended_config.temprature' (did you mean 'temperature'?)",
        ),
        ({"model_name": "x"}, "gpt-4o: api_type is required"),
        (
            {"api_type": "openai", "api_base": "localhost:8000"},
            "gpt-4o: api_base 'localhost:8000' is not an http:// or https:// URL",
        ),
        (
            {"api_type": "openai", "api_base": []},
            "gpt-4o: api_base must be a URL or a non-empty list of URLs",
        ),
        ({"api_type": "openai", "weight": -1}, "gpt-4o: weight: Input should be greater than or equal to 0"),
        (
            {"api_type": "openai", "max_concurrency": 0},
            "gpt-4o: max_concurrency: Input should be greater than or equal to 1",
        ),
        (
            {"api_type": "openai", "recommended_config": {"temperature": 3}},
            "gpt-4o: recommended_config.temperature: Input should be less than or equal to 2",
        ),
        (
            {"api_type": "openai", "anony_only": "yes please"},
            "gpt-4o: anony_only: Input should be a valid boolean",
        ),
        (
            {"api_type": "openai", "api_key": "sk-a", "api_key_env": "K"},
            "gpt-4o: api_key and api_key_env are both set; keep only api_key_env",
        ),
        (
            {"api_type": "openai", "api_key_env": "my key"},
            "gpt-4o: api_key_env 'my key' is not an environment variable name",
        ),
        (
            {"api_type": "openai", "anony_only": True, "chat": True},
            "gpt-4o: anony_only is true (battles only) but chat is true",
        ),
        ({"api_type": "openai", "battle": False, "chat": False}, "gpt-4o: battle and chat are both false"),
        (
            {"api_type": "anthropic", "api_base": "https://api.anthropic.com/v1"},
            "gpt-4o: api_base 'https://api.anthropic.com/v1' must not end in /v1 for api_type anthropic",
        ),
        (
            {"api_type": "openai", "timeout_s": 10, "first_token_timeout_s": 20},
            "gpt-4o: first_token_timeout_s is longer than timeout_s",
        ),
    ],
)
def test_invalid_entries_name_the_model_and_field(entry: dict[str, Any], expected: str) -> None:
    problems = problems_of({"gpt-4o": entry})
    assert any(p.startswith(expected) or (expected.startswith("(") and expected in p) for p in problems), (
        problems
    )


def test_all_problems_are_listed_one_per_line_with_the_entry_name() -> None:
    data = {
        "a": {"api_type": "x"},
        "b": {"api_type": "openai", "colour": "red", "weight": -1},
        "c": {"api_type": "openai", "api_key": "sk-1", "api_key_env": "K", "battle": False, "chat": False},
        "d": {"api_type": "openai"},
    }
    with pytest.raises(EndpointFileError) as info:
        parse_endpoints(data, "f.json")
    problems = info.value.problems
    assert len(problems) == 5, problems
    lines = str(info.value).splitlines()
    assert lines[0] == "f.json: 5 problems:"
    assert lines[1:] == ["  " + p for p in problems]
    assert problems[0].startswith("a: api_type 'x' is not one of openai, ")
    assert {p.split(":")[0] for p in problems} == {"a", "b", "c"}
    assert "b: unknown field 'colour'" in "\n".join(problems) and "b: weight: " in "\n".join(problems)
    # the same entry's consistency problems are all listed, not only the first
    assert any(p.startswith("c: api_key and api_key_env are both set") for p in problems)
    assert any(p.startswith("c: battle and chat are both false") for p in problems)


def test_a_single_problem_is_one_line() -> None:
    with pytest.raises(EndpointFileError) as info:
        parse_endpoints({"a": {"api_type": "x"}}, "f.json")
    assert str(info.value).splitlines() == [f"f.json: {info.value.problems[0]}"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], "must contain a JSON object"),
        ({}, "lists no models"),
        ({"m": "openai"}, "m: the entry must be a JSON object"),
    ],
)
def test_bad_top_level_shapes(data: Any, expected: str) -> None:
    assert expected in problems_of(data)[0]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(EndpointFileError, match=r"api_endpoints.json: file not found \(copy api_endpoints"):
        load_endpoint_file(tmp_path / "api_endpoints.json")


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '{\n  "m": {\n    "api_type": "openai",\n  }\n}\n')
    with pytest.raises(EndpointFileError) as info:
        load_endpoint_file(path)
    expected = "invalid JSON at line 4, column 3: Expecting property name enclosed in double quotes"
    assert str(info.value) == f"{path}: {expected}"


def test_duplicate_model_key_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, '{"m": {"api_type": "openai"}, "m": {"api_type": "anthropic"}}')
    with pytest.raises(EndpointFileError, match="duplicate key 'm'"):
        load_endpoint_file(path)


def test_secrets_never_in_errors_or_reprs(tmp_path: Path) -> None:
    secret = "sk-very-secret-value-42424242"
    config = parse_endpoints({"m": {"api_type": "openai", "api_key": secret}})
    assert secret not in repr(config) and secret not in str(config.entries["m"])
    # a key of the wrong type: the error names the field, never the value
    problems = problems_of({"m": {"api_type": "openai", "api_key": [secret]}})
    assert problems == ["m: api_key: Input should be a valid string"]
    # a file with a secret and a syntax error right after it: the JSON error has no excerpt
    path = write(tmp_path, json.dumps({"m": {"api_type": "openai", "api_key": secret}})[:-2] + ",,}")
    with pytest.raises(EndpointFileError) as info:
        load_endpoint_file(path)
    assert secret not in str(info.value)


def test_vendor_key_variable_is_only_used_for_the_vendors_own_url() -> None:
    """An entry without api_key/api_key_env gets OPENAI_API_KEY / ANTHROPIC_API_KEY only when it talks to
    that vendor's default URL: a vendor key must never be sent to a third-party or local host."""
    from arena_app.providers.keys import key_source, resolve_key

    env = {"OPENAI_API_KEY": "sk-openai", "ANTHROPIC_API_KEY": "sk-ant"}
    entries = parse_endpoints(
        {
            "gpt": {"api_type": "openai"},
            "claude": {"api_type": "anthropic_message"},
            "local-openai": {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"},
            "proxy-claude": {"api_type": "anthropic_message", "api_base": "https://proxy.example"},
        }
    ).entries
    keys = {n: resolve_key(n, e, env, require=False) for n, e in entries.items()}
    assert keys["gpt"] is not None and keys["gpt"].get_secret_value() == "sk-openai"
    assert keys["claude"] is not None and keys["claude"].get_secret_value() == "sk-ant"
    assert keys["local-openai"] is None and keys["proxy-claude"] is None
    assert key_source(entries["proxy-claude"]) == "none"
    assert key_source(entries["claude"]) == "env ANTHROPIC_API_KEY (implicit)"


def test_invalid_api_base_error_does_not_repeat_credentials() -> None:
    with pytest.raises(EndpointFileError) as info:
        parse_endpoints({"m": {"api_type": "openai", "api_base": "htp://user:hunter2@host:1/v1"}})
    message = str(info.value)
    assert "api_base 'htp://***@host:1/v1' is not an http:// or https:// URL" in message
    assert "hunter2" not in message and "user:" not in message
    with pytest.raises(EndpointFileError) as info:
        parse_endpoints({"c": {"api_type": "anthropic", "api_base": "https://user:hunter2@proxy.example/v1"}})
    message = str(info.value)
    assert "api_base 'https://***@proxy.example/v1' must not end in /v1" in message
    assert "hunter2" not in message


def test_vendor_entries_without_their_key_stay_out_of_battles() -> None:
    """A FastChat-style entry for a vendor's own API with no key anywhere would fail every request: it is
    not sampled for battles (still listed for chat, where the user gets the authentication error)."""
    mapping = {
        "gpt": {"api_type": "openai"},
        "claude": {"api_type": "anthropic"},
        "local": {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"},
    }
    reg = ModelRegistry.from_mapping(mapping, env={})
    assert [m.name for m in reg.battle_models()] == ["local"]  # a local server may need no key
    assert {m.name for m in reg.chat_models()} == {"gpt", "claude", "local"}
    report = {h.name: h for h in reg.health_report()}
    assert not report["gpt"].key_configured and not report["gpt"].healthy
    keyed = ModelRegistry.from_mapping(mapping, env={"OPENAI_API_KEY": "sk-x", "ANTHROPIC_API_KEY": "sk-y"})
    assert len(keyed.battle_models()) == 3
