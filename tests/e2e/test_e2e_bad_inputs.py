"""Hostile input through the real Gradio queue API (raw HTTP, as any client can send it), on SQLite and
PostgreSQL: each gets a clear refusal, stores nothing, never reaches a model (so never counts against an
endpoint's health), and the app keeps serving a normal battle afterwards.

Bodies are sent as raw bytes: ``NaN`` and lone surrogate escapes are valid for Python's JSON reader (and
so for Gradio) but not produced by strict JSON encoders such as httpx's.
"""

from __future__ import annotations

import json
import select
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.queue_client import AppConfig, parse_config
from tests.conftest import PostgresServer, _db_name
from tests.e2e.harness import RunningApp, launch_app
from tests.e2e.helpers import marker

TABLES = ("battles", "conversations", "messages", "votes", "feedback")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    url = None
    server: PostgresServer | None = None
    name = _db_name()
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        url = server.create(name, request.getfixturevalue("_postgres_template"))
    try:
        with launch_app(
            tmp_path_factory.mktemp("bad-inputs"), database_url=url, max_input_chars=2000
        ) as running:
            yield running
    finally:
        if server is not None:
            server.drop(name)


@pytest.fixture(scope="module")
def config(app: RunningApp) -> AppConfig:
    return parse_config(httpx.get(app.url + "config", timeout=30).json())


def counts(app: RunningApp) -> dict[str, int]:
    return {t: int(app.rows(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]) for t in TABLES}


def join(app: RunningApp, body: str | bytes, **kwargs: Any) -> httpx.Response:
    raw = body.encode() if isinstance(body, str) else body
    headers = {"content-type": "application/json"}
    return httpx.post(app.url + "gradio_api/queue/join", content=raw, headers=headers, timeout=60, **kwargs)


def event(app: RunningApp, config: AppConfig, api: str, data_json: str) -> list[Any]:
    """Run ``api`` with the data array given as JSON text; the outputs of its process_completed (an
    event that failed: ``["error", message]``)."""
    session = uuid.uuid4().hex[:12]
    ep = config.endpoints[api]
    body = (
        f'{{"data": {data_json}, "event_data": null, "fn_index": {ep.fn_index}, '
        f'"trigger_id": {json.dumps(ep.trigger_id)}, "session_hash": "{session}"}}'
    )
    joined = join(app, body)
    assert joined.status_code == 200, joined.text
    url = app.url + "gradio_api/queue/data"
    with httpx.stream("GET", url, params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    if not message.get("success"):
                        return ["error", str(message["output"].get("error"))]
                    return list(message["output"]["data"])
    raise AssertionError("no process_completed")


def status(config: AppConfig, api: str, outputs: list[Any], elem_id: str) -> str:
    value = outputs[config.output_index(api, elem_id)]
    return str(value.get("value") if isinstance(value, dict) else value)


def sbs_data(text: str, a: str = "Papaya-Chat", b: str = "Guava-Chat", temperature: str = "0.7") -> str:
    models = f"{json.dumps(a)}, {json.dumps(b)}"
    return f"[{json.dumps(text)}, null, {models}, {temperature}, 1.0, 256, 0.7, 1.0, 256]"


def chat_data(text: str, temperature: str = "0.7", top_p: str = "1.0", tokens: str = "256") -> str:
    return f'[{json.dumps(text)}, null, "Papaya-Chat", {temperature}, {top_p}, {tokens}]'


def assert_still_serving(app: RunningApp, config: AppConfig) -> None:
    mk = marker()
    out = event(app, config, "battle_send", f'["still serving {mk}", null]')
    assert not status(config, "battle_send", out, "battle-status").startswith("⚠️")
    assert app.battle_for_message(mk)["turn_count"] == 1


@pytest.mark.parametrize(
    ("api", "data", "elem_id", "expected"),
    [
        (
            "chat_send",
            chat_data("hi", temperature="NaN"),
            "chat-status",
            "Temperature must be a finite number",
        ),
        # out of the sliders' ranges: Gradio's own check refuses these before our handler runs
        ("chat_send", chat_data("hi", top_p="Infinity"), None, "Value inf is greater than maximum value 1"),
        ("chat_send", chat_data("hi", temperature="7"), None, "is greater than maximum value 2"),
        ("chat_send", chat_data("hi", tokens="-5"), None, "is less than minimum value"),
        ("chat_send", chat_data("hi", tokens="1e308"), None, "is greater than maximum value"),
        ("sbs_send", sbs_data("hi", temperature="NaN"), "sbs-status", "Temperature must be a finite number"),
        ("sbs_send", sbs_data("hi", b="Papaya-Chat"), "sbs-status", "Choose two different models"),
        ("chat_send", chat_data("nul \u0000 byte"), "chat-status", "NUL character"),
        ("battle_send", '["nul \\u0000 byte", null]', "battle-status", "NUL character"),
        ("battle_send", '["half \\ud83d an emoji", null]', "battle-status", "unpaired UTF-16 surrogate"),
        ("sbs_send", sbs_data("lone \udfff low"), "sbs-status", "unpaired UTF-16 surrogate"),
        ("battle_send", json.dumps(["x" * 2001, None]), "battle-status", "the limit is 2,000"),
    ],
    ids=[
        "nan-temperature",
        "infinite-top-p",
        "temperature-out-of-range",
        "negative-tokens",
        "huge-tokens",
        "sbs-nan-temperature",
        "sbs-same-model-twice",
        "chat-nul",
        "battle-nul",
        "battle-lone-high-surrogate",
        "sbs-lone-low-surrogate",
        "battle-too-long",
    ],
)
def test_bad_input_is_refused_clearly_and_stores_nothing(
    app: RunningApp, config: AppConfig, api: str, data: str, elem_id: str | None, expected: str
) -> None:
    before, upstream_before = counts(app), len(app.openai.requests) + len(app.anthropic.requests)
    health_before = {h.name: h.healthy for h in app.services.registry.health_report()}
    out = event(app, config, api, data)
    if elem_id is None:  # refused by Gradio: the event fails with its message
        assert out[0] == "error" and expected in out[1], out
    else:
        text = status(config, api, out, elem_id)
        assert text.startswith("⚠️") and expected in text, text
    assert counts(app) == before
    assert len(app.openai.requests) + len(app.anthropic.requests) == upstream_before  # no model asked
    assert {h.name: h.healthy for h in app.services.registry.health_report()} == health_before
    assert_still_serving(app, config)


def test_an_oversized_body_is_refused_with_413_before_it_is_read(app: RunningApp, config: AppConfig) -> None:
    from arena_app.ui.http_guard import body_cap

    cap = body_cap(2000)
    before = counts(app)
    # announced length over the cap: refused at once, whatever follows
    started = time.perf_counter()
    big = join(app, b'{"data": ["' + b"x" * (cap + 10) + b'"]}')
    assert big.status_code == 413 and "too large" in big.json()["detail"]

    # no length (chunked): counted while it streams and answered as soon as it passes the cap, while
    # the client is still sending (a raw socket, so the client sees the answer the moment it comes)
    for path in ("/gradio_api/queue/join", "/gradio_api/cancel"):
        code, sent = chunked_until_answered(app, path, total=50 * 1024 * 1024)
        assert code == 413, (path, code)
        assert sent < cap + 4 * 1024 * 1024, (path, sent)  # not 50 MiB: refused near the cap
    assert time.perf_counter() - started < 30
    assert counts(app) == before
    assert_still_serving(app, config)


def chunked_until_answered(app: RunningApp, path: str, total: int) -> tuple[int, int]:
    """POST a chunked body of up to ``total`` bytes, stopping when the server answers.

    Returns (HTTP status, bytes sent)."""
    host, port = app.url.removeprefix("http://").rstrip("/").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"y" * 65536
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                time.sleep(0.001)
        except OSError:
            pass  # the server closed its side after answering
        head = sock.recv(65536).decode("latin-1")
    return int(head.split(" ", 2)[1]), sent


def test_unknown_events_get_404_not_500(app: RunningApp, config: AppConfig) -> None:
    for fn_index in (9999, -1):
        body = f'{{"data": [], "event_data": null, "fn_index": {fn_index}, "session_hash": "abc123"}}'
        response = join(app, body)
        assert response.status_code == 404, (fn_index, response.status_code, response.text)
        assert f"fn_index {fn_index}" in response.json()["detail"]
    call = httpx.post(app.url + "gradio_api/call/no_such_event", json={"data": []}, timeout=30)
    assert call.status_code == 404
    assert_still_serving(app, config)


def test_uploads_are_refused_and_the_monitoring_dashboard_is_not_served(app: RunningApp) -> None:
    files = {"files": ("big.bin", b"z" * 2_000_000, "application/octet-stream")}
    upload = httpx.post(app.url + "gradio_api/upload", files=files, timeout=30)
    assert upload.status_code == 403 and "no file uploads" in upload.json()["detail"]
    from gradio.utils import get_upload_folder

    cache = Path(get_upload_folder())
    assert not cache.exists() or not any(p.name == "big.bin" for p in cache.rglob("*"))
    for path in ("monitoring", "monitoring/summary", "gradio_api/monitoring/summary", "monitoring/abc"):
        response = httpx.get(app.url + path, timeout=30)
        assert response.status_code == 404, (path, response.status_code)
