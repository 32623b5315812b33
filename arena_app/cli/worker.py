"""``arena worker``: serve a local Hugging Face causal LM over an OpenAI-compatible API (see docs/worker.md).

``workers`` (and with it torch and transformers) is imported only inside the handler, so ``arena --help`` and
every other subcommand work without them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from arena_app.cli.settings_flags import add_command
from arena_app.settings import ArenaSettings

if TYPE_CHECKING:
    from arena_app.cli.settings_flags import Subcommands

DEVICES = ("auto", "cuda", "cpu")
DTYPES = ("auto", "bfloat16", "float16", "float32")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def register(sub: Subcommands) -> None:
    # No arena setting: the worker has its own --host/--port and needs none of the web app's settings.
    parser = add_command(
        sub,
        "worker",
        settings=(),
        help="serve a local model over an OpenAI-compatible API (needs the [worker] extra)",
        description="Load a causal LM from a local folder with transformers and serve "
        "POST /v1/chat/completions (streaming and not), GET /v1/models, GET /health and GET /metrics, "
        "batching concurrent requests.",
    )
    parser.add_argument(
        "--model-path", required=True, help="local folder with config.json, weights and tokenizer"
    )
    parser.add_argument(
        "--model-name", required=True, help="name clients pass as 'model' (and /v1/models lists)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address [default 127.0.0.1]")
    parser.add_argument("--port", type=_positive, default=21002, help="listen port [default 21002]")
    parser.add_argument(
        "--device", choices=DEVICES, default="auto", help="auto = cuda if available [default auto]"
    )
    parser.add_argument(
        "--dtype", choices=DTYPES, default="auto", help="auto = bfloat16/float16 on GPU, float32 on CPU"
    )
    parser.add_argument(
        "--max-batch-size", type=_positive, default=16, help="most requests decoded together [default 16]"
    )
    parser.add_argument(
        "--max-new-tokens-limit",
        type=_positive,
        default=1024,
        help="cap on max_tokens of any request [default 1024]",
    )
    parser.add_argument(
        "--kv-cache-tokens",
        type=_positive,
        default=None,
        help="KV cache capacity in tokens [default max-batch-size x min(context, 1024)]",
    )
    parser.add_argument(
        "--cpu-threads",
        type=_positive,
        default=None,
        help="torch threads on CPU [default: half the cores, at least 1]; fewer is faster on a busy machine",
    )
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (for reproducible runs)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: ArenaSettings) -> int:
    from workers.server import serve
    from workers.state import WorkerOptions

    return serve(
        WorkerOptions(
            model_path=args.model_path,
            model_name=args.model_name,
            host=args.host,
            port=args.port,
            device=args.device,
            dtype=args.dtype,
            max_batch_size=args.max_batch_size,
            max_new_tokens_limit=args.max_new_tokens_limit,
            kv_cache_tokens=args.kv_cache_tokens,
            cpu_threads=args.cpu_threads,
            seed=args.seed,
        )
    )
