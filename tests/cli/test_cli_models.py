"""``arena models`` and ``arena models check`` against loopback vendor servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena_app.cli import models as models_cli
from arena_app.cli.main import build_parser, parse_args
from arena_app.cli.settings_flags import settings_overrides
from arena_app.services.errors import NotFound, Refused
from arena_app.settings import load_settings
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.openai_server import OpenAIFakeServer, Reply

SECRET = "sk-cli-secret-value-31337"


def run(argv: list[str]) -> int:
    """The command as `arena` parses it, but errors raised (main() would print them as one line)."""
    args = parse_args(build_parser(), argv)
    assert args.func.__module__ == models_cli.__name__
    return int(args.func(args, load_settings(**settings_overrides(args))))


def write_file(tmp_path: Path, openai_url: str, anthropic_url: str) -> Path:
    data = {
        "gpt-local": {
            "api_type": "openai",
            "model_name": "up-gpt",
            "api_key": SECRET,
            "api_base": [openai_url, openai_url + "/"],
            "organization": "OpenAI",
        },
        "claude-x": {
            "api_type": "anthropic_message",
            "api_base": anthropic_url,
            "api_key_env": "CLI_TEST_KEY",
            "anony_only": True,
        },
        "needs-key": {
            "api_type": "openai",
            "api_base": openai_url,
            "api_key_env": "CLI_UNSET_KEY",
            "battle": False,
        },
    }
    path = tmp_path / "endpoints.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def servers() -> Iterator[tuple[OpenAIFakeServer, AnthropicFakeServer]]:
    with OpenAIFakeServer() as o, AnthropicFakeServer() as a:
        yield o, a


def test_models_lists_pools_hosts_and_key_sources(
    tmp_path: Path,
    servers: tuple[OpenAIFakeServer, AnthropicFakeServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    o, a = servers
    monkeypatch.setenv("CLI_TEST_KEY", "sk-ant-cli-9999999")
    monkeypatch.delenv("CLI_UNSET_KEY", raising=False)
    assert run(["models", "--endpoints-file", str(write_file(tmp_path, o.base_url, a.base_url))]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith("MODEL")}
    assert "battle+chat" in lines["gpt-local"] and "inline" in lines["gpt-local"]
    assert f"127.0.0.1:{o.port}" in lines["gpt-local"]
    assert "battle " in lines["claude-x"] and "env CLI_TEST_KEY" in lines["claude-x"]
    assert "env CLI_UNSET_KEY MISSING" in lines["needs-key"] and " chat " in lines["needs-key"]
    assert lines["needs-key"].rstrip().endswith("no key") and lines["gpt-local"].rstrip().endswith("ok")
    assert "have no key" in out
    assert SECRET not in out and "sk-ant-cli-9999999" not in out and "/v1" not in out


def test_models_json(
    tmp_path: Path,
    servers: tuple[OpenAIFakeServer, AnthropicFakeServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    o, a = servers
    monkeypatch.setenv("CLI_TEST_KEY", "k")
    run(["models", "--json", "--endpoints-file", str(write_file(tmp_path, o.base_url, a.base_url))])
    out = capsys.readouterr().out
    data = json.loads(out)
    assert [d["name"] for d in data] == ["gpt-local", "claude-x", "needs-key"]
    assert data[0]["organization"] == "OpenAI" and data[0]["params"]["max_new_tokens"] == 1024
    assert SECRET not in out


def test_check_reports_each_endpoint_and_fails_when_one_fails(
    tmp_path: Path,
    servers: tuple[OpenAIFakeServer, AnthropicFakeServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    o, a = servers
    o.default = Reply.text("OK")
    a.enqueue(Reply.error(500))
    monkeypatch.setenv("CLI_TEST_KEY", "sk-ant-cli-9999999")
    path = write_file(tmp_path, o.base_url, a.base_url)
    assert run(["models", "check", "gpt-local", "claude-x", "--endpoints-file", str(path)]) == 1
    out = capsys.readouterr().out
    gpt_rows = [line for line in out.splitlines() if line.startswith("gpt-local")]
    assert len(gpt_rows) == 2 and all(" ok " in row and row.rstrip().endswith("OK") for row in gpt_rows)
    claude_row = next(line for line in out.splitlines() if line.startswith("claude-x"))
    assert "FAILED" in claude_row and "HTTP 500" in claude_row
    assert "1 of 3 endpoint(s) failed" in out
    assert o.requests[0].body["max_tokens"] == 16
    assert run(["models", "check", "gpt-local", "--endpoints-file", str(path)]) == 0


def test_missing_endpoint_file_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotFound, match="no endpoint file: pass --endpoints-file"):
        run(["models"])
    with pytest.raises(Refused, match="file not found"):
        run(["models", "--endpoints-file", str(tmp_path / "nope.json")])


def test_checking_an_unknown_model_sends_nothing(
    tmp_path: Path, servers: tuple[OpenAIFakeServer, AnthropicFakeServer]
) -> None:
    o, a = servers
    path = write_file(tmp_path, o.base_url, a.base_url)
    with pytest.raises(NotFound, match="unknown model 'nope'; known models: gpt-local, claude-x, needs-key"):
        run(["models", "check", "gpt-local", "nope", "--endpoints-file", str(path)])
    assert o.requests == [] and a.requests == []
