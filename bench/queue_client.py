"""A small client of Gradio 6's queue API over plain HTTP (async httpx), for load tests and deploy tests.

One call is ``POST /gradio_api/queue/join`` then ``GET /gradio_api/queue/data?session_hash=H``, read as
server-sent events until ``process_completed`` for the event (see /work/shared/notes/load-and-abuse.md).
``gr.State`` inputs are sent as ``null``: the server keeps them per ``session_hash``. The client records
what a benchmark needs: when the call started, when the first event containing a watched string arrived
(e.g. the first answer word, for time to first token), and the final outputs. ``gradio_client`` does the
same but is slower and hides the timings.

Every request of one simulated user carries that user's headers (e.g. the load balancer's affinity cookie,
see deploy/README.md); one :func:`shared_client` serves all users and keeps no cookie jar of its own.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx


def shared_client(**kwargs: Any) -> httpx.AsyncClient:
    """An AsyncClient for many simulated users: it keeps no cookies itself (each user sends its own)."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # accept none
    return httpx.AsyncClient(cookies=jar, **kwargs)


class CallError(Exception):
    """A call that did not complete successfully; ``kind`` is a short label for error counts."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class Endpoint:
    api_name: str
    fn_index: int
    trigger_id: int | None
    outputs: tuple[int, ...]  # component ids, in output order


@dataclass(frozen=True)
class AppConfig:
    endpoints: dict[str, Endpoint]
    elem_ids: dict[int, str]  # component id -> elem_id (components that have one)

    def output_index(self, api_name: str, elem_id: str) -> int:
        """Position of the component with ``elem_id`` among ``api_name``'s outputs."""
        ids = self.endpoints[api_name].outputs
        for i, cid in enumerate(ids):
            if self.elem_ids.get(cid) == elem_id:
                return i
        raise KeyError(f"{api_name} has no output with elem_id {elem_id!r}")


def parse_config(config: dict[str, Any]) -> AppConfig:
    """The named endpoints (``api_name`` -> fn_index, first trigger, outputs) of a ``GET /config`` body."""
    endpoints: dict[str, Endpoint] = {}
    for dep in config.get("dependencies", []):
        name = dep.get("api_name")
        if not isinstance(name, str) or not name:
            continue
        targets = dep.get("targets") or []
        trigger = targets[0][0] if targets else None
        endpoints[name] = Endpoint(name, int(dep["id"]), trigger, tuple(dep.get("outputs") or ()))
    elem_ids = {
        int(c["id"]): str(c["props"]["elem_id"])
        for c in config.get("components", [])
        if isinstance(c.get("props"), dict) and c["props"].get("elem_id")
    }
    return AppConfig(endpoints, elem_ids)


async def fetch_config(client: httpx.AsyncClient, base_url: str, headers: dict[str, str]) -> AppConfig:
    response = await client.get(f"{base_url}/config", headers=headers)
    response.raise_for_status()
    return parse_config(response.json())


@dataclass
class CallResult:
    started: float  # time.perf_counter() when the join request was sent
    completed: float = 0.0  # when process_completed arrived
    first_match: float | None = None  # when the first event containing ``watch`` arrived
    output: list[Any] = field(default_factory=list)  # process_completed's output data (full values)
    events: int = 0  # SSE data events read


async def call(
    client: httpx.AsyncClient,
    base_url: str,
    endpoint: Endpoint,
    data: list[Any],
    session_hash: str,
    headers: dict[str, str],
    watch: str | None = None,
) -> CallResult:
    """Run one event through the queue and wait for its completion. Raises :class:`CallError`."""
    result = CallResult(started=time.perf_counter())
    body = {
        "data": data,
        "event_data": None,
        "fn_index": endpoint.fn_index,
        "trigger_id": endpoint.trigger_id,
        "session_hash": session_hash,
    }
    try:
        joined = await client.post(f"{base_url}/gradio_api/queue/join", json=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise CallError("join timeout") from exc
    except httpx.TransportError as exc:
        raise CallError(f"join connection: {type(exc).__name__}") from exc
    if joined.status_code != 200:
        raise CallError(f"join HTTP {joined.status_code}", joined.text[:200])
    event_id = joined.json().get("event_id")
    url = f"{base_url}/gradio_api/queue/data"
    try:
        async with client.stream("GET", url, params={"session_hash": session_hash}, headers=headers) as s:
            if s.status_code != 200:
                raise CallError(f"data HTTP {s.status_code}")
            async for line in s.aiter_lines():
                if not line.startswith("data:"):
                    continue
                result.events += 1
                if watch is not None and result.first_match is None and watch in line:
                    result.first_match = time.perf_counter()
                if '"close_stream"' in line and result.completed:
                    return result  # read to the end, as a browser does, so the server sees no hang-up
                if '"process_completed"' not in line and '"unexpected_error"' not in line:
                    continue  # estimation, process_starts, process_generating, heartbeat
                message = json.loads(line[5:])
                if message.get("msg") == "unexpected_error":
                    raise CallError("unexpected_error", str(message.get("message"))[:200])
                if message.get("event_id") != event_id:
                    continue
                if not message.get("success", False):
                    output = message.get("output") or {}
                    raise CallError("event failed", str(output.get("error"))[:200])
                result.completed = time.perf_counter()
                result.output = list((message.get("output") or {}).get("data") or [])
    except httpx.TimeoutException as exc:
        raise CallError("data timeout") from exc
    except httpx.TransportError as exc:
        raise CallError(f"data connection: {type(exc).__name__}") from exc
    if result.completed:
        return result
    raise CallError("stream ended before process_completed")
