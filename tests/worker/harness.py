"""A real worker on loopback for the worker tests (imported as ``tests.worker.harness``)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from openai import OpenAI

from workers.loading import LoadedModel
from workers.server import WorkerOptions, create_app

MODEL_NAME = "tiny"
NEW_TOKENS_LIMIT = 64


class RunningWorker:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def client(self) -> OpenAI:
        return OpenAI(base_url=self.base_url + "/v1", api_key="unused", max_retries=0, timeout=60)

    def metrics(self) -> dict[str, Any]:
        return dict(self.http.get("/metrics").json())

    def wait_until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            snapshot = self.metrics()
            if predicate(snapshot):
                return snapshot
            if time.monotonic() > deadline:
                raise AssertionError(f"metrics never matched: {snapshot}")
            time.sleep(0.05)

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.http.get("/health").status_code != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not healthy: {self.http.get('/health').json()}")
            time.sleep(0.05)


@contextlib.contextmanager
def run_worker(
    model_dir: Path, *, loader: Callable[[], LoadedModel] | None = None, **overrides: Any
) -> Iterator[RunningWorker]:
    """The real worker app served by uvicorn in a thread on a free loopback port."""
    import uvicorn

    options = WorkerOptions(
        model_path=str(model_dir),
        model_name=MODEL_NAME,
        device="cpu",
        max_batch_size=overrides.pop("max_batch_size", 8),
        max_new_tokens_limit=overrides.pop("max_new_tokens_limit", NEW_TOKENS_LIMIT),
        **overrides,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(options, loader=loader), log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the worker server thread died at start-up")
        time.sleep(0.02)
    worker = RunningWorker(f"http://127.0.0.1:{port}")
    try:
        yield worker
    finally:
        worker.http.close()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
