"""``scripts/cluster``: two real ``arena serve`` replicas on one PostgreSQL database behind the real nginx,
with loopback fake models. Battles run end to end through nginx via Gradio's queue API; sessions stick to
one replica and spread over both; a spoofed X-Forwarded-For does not reach the client hash; when a replica
is killed its users' next battles run on the other one; ``status`` and ``stop`` see exactly what started.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import create_engine, text

from arena_app.services.client_id import ClientIdentifier
from bench.queue_client import AppConfig, call, fetch_config, shared_client
from deploy.cluster import free_port
from tests.deploy.nginx_helpers import require_nginx, upstreams_by_key
from tests.fakes.openai_server import OpenAIFakeServer, Reply

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = str(ROOT / "scripts/cluster")
SPOOFED = "203.0.113.9"
WORDS = {"alpha-upstream": "kiwi", "beta-upstream": "mango"}

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
T = TypeVar("T")


@dataclass
class Cluster:
    url: str
    run_dir: Path
    info: dict[str, Any]
    database_url: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [CLUSTER, args[0], "--run-dir", str(self.run_dir), *args[1:]]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    def replica_port(self, index: int) -> str:
        return f"127.0.0.1:{self.info['replicas'][index]['port']}"

    def rows(self, sql: str) -> list[Any]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql)).all())
        finally:
            engine.dispose()


def _answer(req: Any) -> Reply:
    model = str((req.body or {}).get("model", ""))
    return Reply.text(f"A streamed answer about the {WORDS.get(model, 'plain')} here.", chunk_delay=0.01)


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    require_nginx()
    with OpenAIFakeServer(_answer) as alpha, OpenAIFakeServer(_answer) as beta:
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
        env = {**os.environ, "ARENA_SECRETS_DIR": str(tmp_path / "secrets")}  # one salt file for both
        started = subprocess.run(argv, capture_output=True, text=True, timeout=360, env=env)
        try:
            assert started.returncode == 0, started.stderr
            info = json.loads((run_dir / "cluster.json").read_text())
            yield Cluster(info["url"], run_dir, info, postgres_url)
        finally:
            subprocess.run([CLUSTER, "stop", "--run-dir", str(run_dir)], capture_output=True, timeout=120)


async def _battle(
    client: httpx.AsyncClient, url: str, config: AppConfig, cookie: str, marker: str
) -> tuple[str, list[Any]]:
    """One battle (send, vote) in a fresh session; returns the vote's status text and the chatbots."""
    headers = {"cookie": f"arena_affinity={cookie}", "x-forwarded-for": SPOOFED}
    session = uuid.uuid4().hex[:12]
    send = config.endpoints["battle_send"]
    sent = await call(client, url, send, [f"Question {marker}: hi", None], session, headers, watch="streamed")
    assert sent.first_match is not None, sent.output
    at = {
        e: config.output_index("battle_send", e)
        for e in ("battle-chatbot-a", "battle-chatbot-b", "battle-status")
    }
    chats = [json.dumps(sent.output[at["battle-chatbot-a"]]), json.dumps(sent.output[at["battle-chatbot-b"]])]
    assert sorted("kiwi" in c for c in chats) == [False, True] and sorted("mango" in c for c in chats) == [
        False,
        True,
    ], chats  # one model on each side, both answers complete
    voted = await call(client, url, config.endpoints["battle_vote_a"], [None], session, headers)
    return str(voted.output[at["battle-status"]]), chats


async def _new_users(client: httpx.AsyncClient, url: str, count: int) -> list[str]:
    """Browsers arriving: each first page load gets its own affinity cookie from nginx."""
    cookies = []
    for _ in range(count):
        response = await client.get(f"{url}/config")
        assert response.status_code == 200
        cookies.append(response.cookies["arena_affinity"])
    return cookies


def test_battles_through_nginx_stick_to_a_replica_spread_and_survive_a_dead_replica(cluster: Cluster) -> None:
    access = cluster.run_dir / "nginx/logs/access.log"
    both = {cluster.replica_port(0), cluster.replica_port(1)}

    async def scenario() -> tuple[list[str], dict[str, str]]:
        async with shared_client(timeout=60) as client:
            config = await fetch_config(client, cluster.url, {})
            cookies: list[str] = []
            placement: dict[str, str] = {}
            while len(cookies) < 40 and not all(list(placement.values()).count(p) >= 2 for p in both):
                batch = await _new_users(client, cluster.url, 6)
                results = await asyncio.gather(
                    *(_battle(client, cluster.url, config, c, f"first-{c}") for c in batch)
                )
                assert all("vote was recorded" in status for status, _ in results), results
                cookies += batch
                served = upstreams_by_key(access, "/gradio_api/")
                for c in batch:
                    assert len(served[c]) == 1, f"one session's requests reached {served[c]}"
                    placement[c] = next(iter(served[c]))
            return cookies, placement

    cookies, placement = _run(scenario)
    assert set(placement.values()) == both, placement  # spread over both replicas

    votes = cluster.rows("SELECT client_hash FROM votes")
    assert len(votes) == len(cookies)
    assert cluster.rows("SELECT value FROM app_meta WHERE key = 'client_id_salt'") == []  # not in the DB
    salt = (cluster.run_dir.parent / "secrets" / "client_id_salt").read_text().strip()
    ids = ClientIdentifier(salt, ["127.0.0.1"])
    assert {v[0] for v in votes} == {ids.hash_address("127.0.0.1")}  # not the spoofed address
    assert ids.hash_address(SPOOFED) not in {v[0] for v in votes}

    # replica 1 dies: its users' next battles (new sessions, same cookies) run on replica 2
    os.kill(cluster.info["replicas"][0]["pid"], signal.SIGKILL)
    moved = [c for c in cookies if placement[c] == cluster.replica_port(0)]

    async def after_kill() -> list[tuple[str, list[Any]]]:
        async with shared_client(timeout=60) as client:
            config = await fetch_config(client, cluster.url, {})
            return list(
                await asyncio.gather(*(_battle(client, cluster.url, config, c, f"again-{c}") for c in moved))
            )

    assert all("vote was recorded" in status for status, _ in _run(after_kill))
    served = upstreams_by_key(access, "/gradio_api/queue/")
    assert all(cluster.replica_port(1) in served[c] for c in moved)
    assert len(cluster.rows("SELECT id FROM votes")) == len(cookies) + len(moved)

    status = cluster.run("status")
    assert status.returncode == 1 and "replica-1" in status.stdout and "not running" in status.stdout
    assert cluster.run("stop").returncode == 0
    for proc in [cluster.info["nginx"], *cluster.info["replicas"]]:
        assert not Path(f"/proc/{proc['pid']}").exists() or _is_zombie(proc["pid"]), proc
    assert cluster.run("status").returncode == 1  # nothing left to report on


def _run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run in a thread of its own: the session's Playwright tests keep an event loop running in
    the main thread, where asyncio.run refuses to start."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(scenario())).result(timeout=600)


def _is_zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "Z"


def test_cluster_refuses_sqlite_and_reports_a_missing_cluster(tmp_path: Path) -> None:
    run_dir = str(tmp_path / "none")
    refused = subprocess.run(
        [CLUSTER, "start", "--run-dir", run_dir, "--database-url", f"sqlite:///{tmp_path}/a.db"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "share one PostgreSQL database" in refused.stderr
    for command in ("status", "stop"):
        done = subprocess.run(
            [CLUSTER, command, "--run-dir", run_dir], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1 and "no cluster in" in done.stderr


def test_a_replica_that_cannot_start_fails_the_start_and_leaves_nothing_running(
    postgres_url: str, tmp_path: Path
) -> None:
    require_nginx()
    endpoints = tmp_path / "endpoints.json"
    endpoints.write_text(json.dumps({"m": {"api_type": "openai", "api_base": "http://127.0.0.1:9/v1"}}))
    run_dir = tmp_path / "cluster"
    with socket.socket() as taken:  # replica 2's port is in use: it fails once it tries to listen
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = f"{free_port()},{taken.getsockname()[1]}"
        argv = [CLUSTER, "start", "--run-dir", str(run_dir), "--replicas", "2", "--ports", ports]
        argv += ["--listen-port", "0", "--endpoints", str(endpoints), "--database-url", postgres_url]
        env = {**os.environ, "ARENA_SECRETS_DIR": str(tmp_path / "secrets")}  # one salt file for both
        started = subprocess.run(argv, capture_output=True, text=True, timeout=360, env=env)
    assert started.returncode == 1
    assert "replica-2" in started.stderr and "exited" in started.stderr, started.stderr
    assert not (run_dir / "cluster.json").exists()
    assert not any(str(endpoints) in _cmdline(p) for p in _pids())  # replica 1 was stopped too


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
