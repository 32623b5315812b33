"""Aggregate a ``py-spy record --format raw`` profile (collapsed stacks) by subsystem and by function.

    .venv/bin/python bench/profile_summary.py /tmp/prof-sqlite-u20-r0.txt --core-s-per-battle 0.09 --top 20

A sample goes to a "context" subsystem when one of its frames is a known costly caller (Gradio's analytics
summary, gr.update() handling, postprocess_data), else to the subsystem of the innermost frame that says
where the work is for: standard-library
helpers (json, re, copy, socket, h11 ...) are skipped so their cost goes to whoever called them, and a
sample whose innermost frame is in threading.py / queue.py (a waiting thread that woke up) counts as
thread wake-ups. Time inside native code (nh3, orjson, the SQLite and psycopg C parts) shows as the Python
frame that called it, which is why e.g. ``rendering.py`` itself stands for nh3. With
``--core-s-per-battle`` (from bench/load.py, same run) shares are also shown as ms of app CPU per battle.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

#: checked first, on every frame of the stack: work that is known by its caller, wherever the leaf is
CONTEXT_RULES: list[tuple[str, str]] = [
    ("Gradio: queue analytics summary (pandas, after every event)", r"^Queue\.compute_analytics_summary "),
    ("Gradio: gr.update() -> new component instance + config", r"^updateable\.|^postprocess_update_dict "),
    ("Gradio: postprocess_data (rest)", r"^Blocks\.postprocess_data "),
]
#: (subsystem, pattern on "function (file:line)"); the first rule that matches a frame wins
RULES: list[tuple[str, str]] = [
    ("chatbot HTML: markdown-it", r"markdown_it/"),
    ("chatbot HTML: nh3 sanitise (rendering.py)", r"arena_app/ui/rendering\.py"),
    ("style counting", r"leaderboard/style\.py"),
    ("identity detection", r"arena_app/services/identity\.py"),
    ("SQL / ORM (SQLAlchemy, drivers, storage)", r"sqlalchemy/|psycopg|sqlite3/|arena_app/storage/"),
    ("openai SDK (stream parsing)", r"openai/|anthropic/"),
    ("HTTP client to the model (httpx2/httpcore2)", r"httpx2?/|httpcore2?/"),
    ("provider layer (arena_app/providers)", r"arena_app/providers/"),
    ("services: stream fan-in (streaming.py)", r"arena_app/services/streaming\.py"),
    ("services: battle logic", r"arena_app/services/"),
    ("UI handlers (render, chatbot_value)", r"arena_app/ui/"),
    ("Gradio: streaming JSON diff", r"^diff \(.*gradio/utils\.py|gradio/utils\.py.*\bdiff\b"),
    ("Gradio: component postprocess", r"gradio/components/|gradio/data_classes\.py|gradio/processing_utils"),
    ("Gradio: pydantic message models", r"pydantic"),
    ("Gradio: queue, SSE routes, blocks", r"gradio/"),
    ("ASGI server (uvicorn, starlette, fastapi)", r"uvicorn/|starlette/|fastapi/"),
    ("asyncio / anyio event loop and thread hand-off", r"asyncio/|anyio/|selectors\.py|sniffio"),
    ("logging", r"logging/"),
]
#: frames whose cost belongs to their caller
NEUTRAL = re.compile(
    r"\((json/|re/|_?sre|copy\.py|typing\.py|abc\.py|enum\.py|dataclasses\.py|functools\.py|contextlib\.py"
    r"|<frozen|weakref|collections/|h11/|socket\.py|ssl\.py|encodings/|codecs\.py|_weakrefset|types\.py"
    r"|inspect\.py|string\.py|html/|uuid\.py|hashlib|hmac\.py|random\.py|datetime\.py|traceback\.py)"
)
WAKEUP = re.compile(r"\((threading\.py|queue\.py)|^sleep ")
_COMPILED = [(name, re.compile(pattern)) for name, pattern in RULES]
_CONTEXT = [(name, re.compile(pattern)) for name, pattern in CONTEXT_RULES]


def parse(path: Path) -> list[tuple[list[str], int]]:
    """(frames root -> leaf, count) per line of a raw collapsed-stack file."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def subsystem(frames: list[str]) -> str:
    if frames and WAKEUP.search(frames[-1]):
        return "thread wake-ups (threading/queue waits)"
    for frame in reversed(frames):
        for name, pattern in _CONTEXT:
            if pattern.search(frame):
                # postprocess_data's own children that are arena code (none today) keep their subsystem
                if name.endswith("(rest)") and _arena_below(frames, frame):
                    break
                return name
    for frame in reversed(frames):
        if NEUTRAL.search(frame):
            continue
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return "other (interpreter, stdlib)"


def _arena_below(frames: list[str], frame: str) -> bool:
    below = frames[frames.index(frame) + 1 :]
    return any("arena_app/" in f or "markdown_it/" in f for f in below)


def short(frame: str) -> str:
    """``function (path/to/file.py:123)`` -> ``function (file.py)``, shorter and line-independent."""
    match = re.match(r"(.*) \((?:.*/)?([^/:]+)(?::\d+)?\)$", frame)
    return f"{match.group(1)} ({match.group(2)})" if match else frame


def summarise(stacks: list[tuple[list[str], int]]) -> tuple[int, Counter[str], Counter[str], Counter[str]]:
    total = 0
    by_subsystem: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]  # --threads/--subprocesses
        if not frames:
            continue
        total += count
        by_subsystem[subsystem(frames)] += count
        self_time[short(frames[-1])] += count
        for name in {short(f) for f in frames}:
            inclusive[name] += count
    return total, by_subsystem, self_time, inclusive


def table(title: str, counts: Counter[str], total: int, top: int, per_battle_ms: float | None) -> str:
    head = f"| {title} | share |" + (" ms/battle |" if per_battle_ms else "")
    lines = [head, "|---|---:|" + ("---:|" if per_battle_ms else "")]
    for name, n in counts.most_common(top):
        share = n / total
        row = f"| {name.replace('|', '/')} | {share * 100:.1f}% |"
        lines.append(row + (f" {share * per_battle_ms:.1f} |" if per_battle_ms else ""))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path, help="py-spy raw output (bench/load.py --py-spy)")
    ap.add_argument("--core-s-per-battle", type=float, help="app CPU per battle of the same run")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    total, by_subsystem, self_time, inclusive = summarise(parse(args.profile))
    if not total:
        raise SystemExit(f"{args.profile}: no samples")
    ms = args.core_s_per_battle * 1000 if args.core_s_per_battle else None
    print(f"{total} active samples in {args.profile}\n")
    print(table("subsystem", by_subsystem, total, len(by_subsystem), ms) + "\n")
    print(table("function (self)", self_time, total, args.top, ms) + "\n")
    print(table("function (inclusive)", inclusive, total, args.top, ms))


if __name__ == "__main__":
    main()
