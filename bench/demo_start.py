"""Time ``arena serve --demo`` from launch to the first HTTP 200: a first start (empty cache: the demo model
is converted once) and a later start (cache filled).

    .venv/bin/python bench/demo_start.py            # first start, then a later start
    .venv/bin/python bench/demo_start.py --warm-only --cache-dir ~/.cache/llm-arena

Each start uses a fresh SQLite file; the server is stopped with SIGTERM after the first 200.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ARENA = Path(sys.executable).with_name("arena")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_start(cache_dir: Path, work: Path, timeout_s: float) -> float:
    """Seconds from launching ``arena serve --demo`` to its first HTTP 200."""
    port = _free_port()
    db = work / f"arena-{port}.db"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    cmd = [
        str(ARENA),
        "serve",
        "--demo",
        "--cache-dir",
        str(cache_dir),
        "--database-url",
        f"sqlite:///{db}",
        "--port",
        str(port),
    ]
    log = (work / f"serve-{port}.log").open("w")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        while time.monotonic() - start < timeout_s:
            if proc.poll() is not None:
                raise SystemExit(f"arena serve exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    if resp.status == 200:
                        return time.monotonic() - start
            except OSError:
                pass
            time.sleep(0.25)
        raise SystemExit(f"no HTTP 200 within {timeout_s:.0f} s; see {log.name}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a new empty temp dir")
    parser.add_argument("--warm-only", action="store_true", help="skip the first (converting) start")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arena-demo-bench-") as tmp:
        work = Path(tmp)
        cache = args.cache_dir or work / "cache"
        load = os.getloadavg()[0]
        if not args.warm_only:
            print(
                f"first start (empty cache {cache}): {time_start(cache, work, args.timeout):.1f} s "
                f"to HTTP 200 (load average before: {load:.1f})"
            )
            load = os.getloadavg()[0]
        print(
            f"later start (cache filled): {time_start(cache, work, args.timeout):.1f} s "
            f"to HTTP 200 (load average before: {load:.1f})"
        )


if __name__ == "__main__":
    main()
