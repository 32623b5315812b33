"""Loopback model backends for the load benchmark: one fake OpenAI server per model, in its own process.

    .venv/bin/python bench/load_backend.py --models 2 --tokens 20 --token-delay-ms 5

Every request streams ``--tokens`` chunks (``chat.completion.chunk`` events, the real wire format of
``tests/fakes/openai_server.py``) with ``--token-delay-ms`` before the first and between chunks. Prints
one JSON line ``{"base_urls": [...], "first_word": ...}`` once listening, then serves until stdin closes
or SIGTERM/SIGINT arrives. A separate process keeps its CPU and its GIL apart from both the app and the
load driver.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.fakes
from tests.fakes.openai_server import OpenAIFakeServer, Reply  # noqa: E402

#: every answer starts with this word, so a client can tell answer text from placeholders
FIRST_WORD = "Certainly"
_SENTENCE = (
    "the answer depends on context, and a careful reader will notice that several small steps "
    "lead to a **clear** result: first measure, then change one thing, then measure again."
)
_VOCABULARY = _SENTENCE.split(" ")


def answer_tokens(count: int) -> list[str]:
    """``count`` text pieces (words with their leading space), starting with :data:`FIRST_WORD`."""
    words = [FIRST_WORD] + [_VOCABULARY[i % len(_VOCABULARY)] for i in range(count - 1)]
    return [words[0]] + [" " + w for w in words[1:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=20)
    ap.add_argument("--token-delay-ms", type=float, default=5.0)
    args = ap.parse_args()
    if not 1 <= args.tokens <= 100_000 or args.token_delay_ms < 0:
        ap.error("--tokens must be 1..100000 and --token-delay-ms >= 0")
    delay = args.token_delay_ms / 1000
    reply = Reply(chunks=answer_tokens(args.tokens), chunk_delay=delay, first_chunk_delay=delay)
    servers = [OpenAIFakeServer(default=reply).start() for _ in range(args.models)]
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    print(json.dumps({"base_urls": [s.base_url for s in servers], "first_word": FIRST_WORD}), flush=True)
    try:
        done.wait()
    finally:
        for s in servers:
            s.close()


if __name__ == "__main__":
    main()
