"""What the browser can see before a vote: no battle model names, API keys or endpoint URLs."""

from __future__ import annotations

import json

import httpx
from gradio_client import Client

from tests.e2e.harness import BATTLE_MODELS, RunningApp

DOCUMENTED_API = {
    "/battle_send",
    "/battle_stop",
    "/battle_regenerate",
    "/battle_new_round",
    "/battle_vote_a",
    "/battle_vote_b",
    "/battle_vote_tie",
    "/battle_vote_bothbad",
    "/sbs_send",
    "/sbs_stop",
    "/sbs_regenerate",
    "/sbs_new_round",
    "/sbs_vote_a",
    "/sbs_vote_b",
    "/sbs_vote_tie",
    "/sbs_vote_bothbad",
    "/chat_send",
    "/chat_stop",
    "/chat_regenerate",
    "/chat_clear",
    "/chat_upvote",
    "/chat_downvote",
    "/chat_flag",
    "/leaderboard_view",
    "/leaderboard_model",
    "/leaderboard_history",
}


def _leaks(app: RunningApp, text: str) -> list[str]:
    lowered = text.lower()
    return [h for h in app.hidden if h in lowered]


def test_page_config_and_api_schema_carry_no_secrets(running_app: RunningApp) -> None:
    app = running_app
    for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json"):
        resp = httpx.get(app.url + path, timeout=10)
        if path == "gradio_api/openapi.json" and resp.status_code == 404:
            continue
        assert resp.status_code == 200, path
        assert _leaks(app, resp.text) == [], path

    client = Client(app.url, verbose=False)
    schema = client.view_api(return_format="dict", print_info=False)
    assert _leaks(app, json.dumps(schema)) == []
    assert set(schema["named_endpoints"]) == DOCUMENTED_API
    assert schema["unnamed_endpoints"] == {}
    # The dropdowns list only the chat models; the battle-only models are not even choices.
    sbs = schema["named_endpoints"]["/sbs_send"]["parameters"]
    assert not any(name.lower() in json.dumps(sbs).lower() for name in BATTLE_MODELS)


def test_battle_responses_carry_no_names_until_the_vote(running_app: RunningApp) -> None:
    app = running_app
    client = Client(app.url, verbose=False)
    job = client.submit("tell me who you are", api_name="/battle_send")
    for update in job:
        assert _leaks(app, repr(update)) == []
    assert _leaks(app, repr(job.result())) == []
    # Stop / regenerate / new round before a vote reveal nothing either.
    for api_name in ("/battle_stop", "/battle_regenerate"):
        assert _leaks(app, repr(client.predict(api_name=api_name))) == []
    after_vote = client.predict(api_name="/battle_vote_tie")
    revealed = repr(after_vote).lower()
    assert all(name.lower() in revealed for name in BATTLE_MODELS)
    # Keys and endpoint URLs never, not even after the reveal.
    assert not [h for h in app.hidden if h.startswith(("sk-", ":")) and h in revealed]
