"""deploy/nginx.conf.template, rendered by deploy/cluster.py, run by the real nginx in front of two tiny
loopback HTTP servers that say who they are and what headers they got: cookie affinity, the cookieless
fallback, spreading, failover, unbuffered event streams, forwarded-address headers and the body limit."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from deploy.cluster import free_port, nginx_argv, write_nginx_prefix
from tests.deploy.nginx_helpers import access_log, require_nginx, upstreams_by_key


class _Replica(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.name = name
        self.release = threading.Event()  # lets the second event of the stream go
        self.second_sent = threading.Event()
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # close-delimited bodies: the stream test needs no chunk framing
    server: _Replica

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/gradio_api/queue/data"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b"data: one\n\n")
            self.wfile.flush()
            self.server.release.wait(10)
            self.server.second_sent.set()
            self.wfile.write(b"data: two\n\n")
            return
        body = json.dumps(
            {
                "name": self.server.name,
                **{h: self.headers.get(h) for h in ("x-forwarded-for", "x-real-ip", "host")},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.do_GET()


@dataclass
class Balancer:
    url: str
    replicas: list[_Replica]
    prefix: Path

    def who(self, cookie: str | None = None, **headers: str) -> str:
        if cookie:
            headers["cookie"] = f"arena_affinity={cookie}"
        return str(httpx.get(f"{self.url}/gradio_api/info", headers=headers, timeout=10).json()["name"])


@pytest.fixture
def balancer(tmp_path: Path) -> Iterator[Balancer]:
    require_nginx()
    replicas = [_Replica("r1"), _Replica("r2")]
    port = free_port()
    prefix = tmp_path / "nginx"
    write_nginx_prefix(prefix, port, [r.port for r in replicas])  # runs `nginx -t`
    proc = subprocess.Popen(nginx_argv(prefix), stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"{url}/gradio_api/info", timeout=2)
            break
        except httpx.TransportError:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "nginx exited"
            assert time.monotonic() < deadline, "nginx did not answer within 20 s"
            time.sleep(0.1)
    try:
        yield Balancer(url, replicas, prefix)
    finally:
        for r in replicas:
            r.release.set()
        proc.terminate()
        proc.wait(10)
        for r in replicas:
            r.shutdown()
            r.server_close()


def test_first_response_hands_out_an_affinity_cookie_and_later_ones_do_not(balancer: Balancer) -> None:
    first = httpx.get(f"{balancer.url}/config")
    cookie = first.cookies.get("arena_affinity")
    assert cookie and len(cookie) == 32, first.headers
    set_cookie = first.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    again = httpx.get(f"{balancer.url}/config", headers={"cookie": f"arena_affinity={cookie}"})
    assert "set-cookie" not in again.headers


def test_one_cookie_always_reaches_one_replica_and_cookies_spread_over_both(balancer: Balancer) -> None:
    placement = {}
    for _ in range(40):
        cookie = secrets.token_hex(16)
        served = {balancer.who(cookie) for _ in range(4)}
        assert len(served) == 1, f"cookie {cookie} was served by {served}"
        placement[cookie] = served.pop()
    assert set(placement.values()) == {"r1", "r2"}, placement
    # every path the queue uses hashes the same way (join, data, heartbeat, uploads, files)
    cookie, replica = next(iter(placement.items()))
    log = upstreams_by_key(balancer.prefix / "logs/access.log")
    port = {"r1": balancer.replicas[0].port, "r2": balancer.replicas[1].port}[replica]
    assert log[cookie] == {f"127.0.0.1:{port}"}


def test_clients_without_cookies_stay_on_one_replica(balancer: Balancer) -> None:
    assert len({balancer.who() for _ in range(10)}) == 1  # hashed on the client address


def test_a_dead_replica_is_skipped_for_its_sessions(balancer: Balancer) -> None:
    cookies: dict[str, str] = {}
    while len(set(cookies.values())) < 2 and len(cookies) < 60:
        cookie = secrets.token_hex(16)
        cookies[cookie] = balancer.who(cookie)
    on_r1 = [c for c, r in cookies.items() if r == "r1"]
    assert on_r1
    balancer.replicas[0].shutdown()
    balancer.replicas[0].server_close()
    assert {balancer.who(c) for c in on_r1} == {"r2"}
    entries = access_log(balancer.prefix / "logs/access.log")
    assert all(e["status"] == "200" for e in entries), [e for e in entries if e["status"] != "200"]


def test_event_streams_are_not_buffered(balancer: Balancer) -> None:
    replica = balancer.who("stream-test")
    r = next(x for x in balancer.replicas if x.name == replica)
    url = f"{balancer.url}/gradio_api/queue/data?session_hash=abc"
    with httpx.stream("GET", url, headers={"cookie": "arena_affinity=stream-test"}, timeout=15) as s:
        lines = s.iter_lines()
        first = next(line for line in lines if line)
        assert first == "data: one"
        assert not r.second_sent.is_set(), "the first event only arrived once the stream went on"
        r.release.set()
        assert next(line for line in lines if line) == "data: two"


def test_forwarded_headers_carry_the_real_peer_and_drop_a_spoofed_one(balancer: Balancer) -> None:
    got = httpx.get(
        f"{balancer.url}/gradio_api/info",
        headers={"x-forwarded-for": "203.0.113.9", "x-real-ip": "203.0.113.9"},
    ).json()
    assert got["x-forwarded-for"] == "127.0.0.1" and got["x-real-ip"] == "127.0.0.1"
    assert got["host"] == balancer.url.removeprefix("http://")  # the port survives (Gradio builds URLs)


def test_oversized_bodies_are_refused_at_the_edge(balancer: Balancer) -> None:
    too_big = httpx.post(f"{balancer.url}/gradio_api/queue/join", content=b"x" * (1024 * 1024 + 1))
    assert too_big.status_code == 413
    fine = httpx.post(f"{balancer.url}/gradio_api/queue/join", content=b"x" * 200_000)
    assert fine.status_code == 200  # below the limit, kept in memory (no temp file, no permissions needed)
