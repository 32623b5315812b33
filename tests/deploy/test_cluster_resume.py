"""A replica dies mid-battle: after a reload the user continues the same battle on the other replica.

Two real ``arena serve`` replicas on one PostgreSQL database behind the real nginx (``scripts/cluster``),
loopback fake models, and Debian's Chromium as the user. The user votes once (acknowledged on screen),
starts a second battle whose answers stream slowly, and the replica serving them is killed with SIGKILL
mid-answer. A reload reaches the other replica, which rebuilds the battle from the database (the names
still hidden, the lost answers shown as stopped); regenerate and vote finish it there. Both acknowledged
votes are in the database, once each.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages import USER, last_answer, send
from tests.deploy.nginx_helpers import require_nginx, upstreams_by_key
from tests.deploy.test_cluster import CLUSTER, Cluster
from tests.fakes.openai_server import OpenAIFakeServer, Reply

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.browser]

WORDS = {"alpha-upstream": "kiwi", "beta-upstream": "mango"}
CHATBOTS = ("battle-chatbot-a", "battle-chatbot-b")
VOTES = ("#battle-vote-a", "#battle-vote-b", "#battle-vote-tie", "#battle-vote-bothbad")


class Answers:
    """Short answers, or (while ``slow`` is set) 300 words 50 ms apart: 15 s, plenty to kill a replica."""

    def __init__(self) -> None:
        self.slow = threading.Event()

    def __call__(self, req: Any) -> Reply:
        word = WORDS.get(str((req.body or {}).get("model", "")), "plain")
        if self.slow.is_set():
            return Reply.text(" ".join(f"{word}{i}" for i in range(300)), chunk_delay=0.05)
        return Reply.text(f"A short answer about the {word} here.", chunk_delay=0.01)


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path, answers: Answers) -> Iterator[Cluster]:
    require_nginx()
    with OpenAIFakeServer(answers) as alpha, OpenAIFakeServer(answers) as beta:
        endpoints = tmp_path / "endpoints.json"
        entry = {"api_type": "openai", "api_key": "sk-test", "retries": 0}
        endpoints.write_text(
            json.dumps(
                {
                    "Alpha": {**entry, "api_base": alpha.base_url, "model_name": "alpha-upstream"},
                    "Beta": {**entry, "api_base": beta.base_url, "model_name": "beta-upstream"},
                }
            )
        )
        run_dir = tmp_path / "cluster"
        argv = [CLUSTER, "start", "--run-dir", str(run_dir), "--replicas", "2", "--listen-port", "0"]
        argv += ["--endpoints", str(endpoints), "--database-url", postgres_url]
        env = {**os.environ, "ARENA_SECRETS_DIR": str(tmp_path / "secrets")}  # shared by both replicas
        started = subprocess.run(argv, capture_output=True, text=True, timeout=360, env=env)
        try:
            assert started.returncode == 0, started.stderr
            info = json.loads((run_dir / "cluster.json").read_text())
            yield Cluster(info["url"], run_dir, info, postgres_url)
        finally:
            subprocess.run([CLUSTER, "stop", "--run-dir", str(run_dir)], capture_output=True, timeout=120)


def _served_by(cluster: Cluster, cookie: str) -> set[str]:
    return upstreams_by_key(cluster.run_dir / "nginx/logs/access.log", "/gradio_api/queue/").get(
        cookie, set()
    )


def test_a_killed_replica_s_battle_resumes_on_the_other_after_a_reload(
    cluster: Cluster,
    answers: Answers,
    browser: Any,  # noqa: F811
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(cluster.url)
        page.wait_for_selector("#battle-send")
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "arena_affinity")

        send(page, "battle", "First battle, quick")  # one finished, acknowledged vote
        for chatbot in CHATBOTS:
            expect(last_answer(page, chatbot)).to_contain_text("short answer")
        page.click("#battle-vote-tie")
        expect(page.locator("#battle-status")).to_contain_text("vote was recorded")
        (replica,) = _served_by(cluster, cookie)  # one replica serves this browser

        answers.slow.set()
        page.click("#battle-new-round")
        send(page, "battle", "Second battle, a long story please")
        for chatbot in CHATBOTS:
            expect(last_answer(page, chatbot)).to_contain_text("5 ")  # e.g. "kiwi5 "
        index = [f"127.0.0.1:{r['port']}" for r in cluster.info["replicas"]].index(replica)
        os.kill(cluster.info["replicas"][index]["pid"], signal.SIGKILL)  # mid-answer
        answers.slow.clear()

        page.reload()
        page.wait_for_selector("#battle-send")
        for chatbot in CHATBOTS:
            expect(page.locator(f"#{chatbot} {USER}").last).to_contain_text("Second battle, a long story")
            expect(last_answer(page, chatbot)).to_contain_text("(stopped)")  # lost with its process
        expect(page.locator("#battle-reveal")).to_have_text("")
        shown = page.locator("#tab-battle").inner_text().lower()  # the model names stay hidden
        assert [name for name in ("alpha", "beta") if name in shown] == []
        expect(page.locator("#battle-regenerate")).to_be_enabled()

        page.click("#battle-regenerate")
        for chatbot in CHATBOTS:
            expect(last_answer(page, chatbot)).to_contain_text("short answer")
        page.click("#battle-vote-a")
        expect(page.locator("#battle-status")).to_contain_text("vote was recorded")
        expect(page.locator("#battle-reveal")).to_contain_text("Alpha")
    finally:
        context.close()

    other = {f"127.0.0.1:{r['port']}" for r in cluster.info["replicas"]} - {replica}
    assert other <= _served_by(cluster, cookie)  # the rest of the battle ran on the other replica
    battles = cluster.rows(
        "SELECT b.id, v.outcome FROM battles b JOIN votes v ON v.battle_id = b.id ORDER BY b.id"
    )
    assert [outcome for _, outcome in battles] == ["tie", "model_a"]  # no acknowledged vote lost
    assert len(cluster.rows("SELECT id FROM battles")) == 2  # the resumed battle is the same one
    second = battles[1][0]
    answers_of_second = cluster.rows(
        "SELECT m.content, m.finish_reason FROM messages m JOIN battles b "
        "ON m.conversation_id IN (b.conversation_a_id, b.conversation_b_id) "
        f"WHERE b.id = {int(second)} AND m.role = 'assistant'"
    )
    assert sorted(r[1] for r in answers_of_second) == ["stop", "stop"]  # the regenerated answers
