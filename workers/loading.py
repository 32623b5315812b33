"""Load a causal LM and its tokenizer from a local directory (never from the Hugging Face hub)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.errors import ModelLoadError

logger = logging.getLogger("workers")

DEVICES = ("auto", "cuda", "cpu")
DTYPES = ("auto", "bfloat16", "float16", "float32")


@dataclass
class LoadedModel:
    """A model ready for generation, with the facts the server needs about it."""

    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers tokenizer
    name: str
    device: str
    dtype: str
    context_length: int
    has_chat_template: bool


def resolve_device(device: str) -> str:
    """``auto``: CUDA when available, else CPU; ``cuda`` without a GPU is an error, not a silent fallback."""
    import torch

    if device not in DEVICES:
        raise ModelLoadError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(
            "--device cuda was requested but torch sees no CUDA GPU; use --device cpu or auto"
        )
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """``auto``: bfloat16 on a GPU that has it (else float16), float32 on CPU
    (half precision is slow there)."""
    import torch

    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype != "auto":
        return dtype
    if device == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    return "float32"


def default_cpu_threads() -> int:
    """Half the cores this process may use, at least 1 (see ``load_model``)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


def _context_length(model: Any, tokenizer: Any) -> int:
    config = model.config.get_text_config()
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    # Tokenizers without a real limit report a huge sentinel (1e30); only trust sane values.
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < 10_000_000:
        return value
    raise ModelLoadError("cannot tell the model's context length (no max_position_embeddings in its config)")


def load_model(
    model_path: str | Path,
    *,
    name: str,
    device: str = "auto",
    dtype: str = "auto",
    cpu_threads: int | None = None,
) -> LoadedModel:
    """Load tokenizer and model from ``model_path`` with ``local_files_only=True``.

    ``cpu_threads`` sets torch's intra-op threads (``torch.set_num_threads``). On CPU the default is half the
    usable cores (at least 1), not torch's one per core: on a machine whose cores are busy with other work
    (here: the HTTP event loop, other processes), torch's threads spin waiting for each other, and one thread
    per core measured 10x slower than 1 thread on the shared 2-core development machine (docs/worker.md).
    Raises :class:`ModelLoadError` with a message that says what to fix.
    """
    path = Path(model_path).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"--model-path {str(path)!r} is not a directory; pass a local model folder")
    if not (path / "config.json").is_file():
        raise ModelLoadError(
            f"{str(path)!r} has no config.json; pass a folder written by save_pretrained (hub ids are not "
            "downloaded: download or convert the model first)"
        )
    # Belt and braces: nothing may reach the hub at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved_device = resolve_device(device)
    if cpu_threads is None and resolved_device == "cpu":
        cpu_threads = default_cpu_threads()
    if cpu_threads is not None:
        if cpu_threads < 1:
            raise ModelLoadError(f"--cpu-threads must be >= 1, got {cpu_threads}")
        torch.set_num_threads(cpu_threads)
    resolved_dtype = resolve_dtype(dtype, resolved_device)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            path, local_files_only=True, dtype=getattr(torch, resolved_dtype)
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load a causal LM from {str(path)!r}: {exc}") from exc
    model.to(resolved_device)  # type: ignore[arg-type]  # transformers types .to() oddly
    model.eval()
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        name=name,
        device=resolved_device,
        dtype=resolved_dtype,
        context_length=_context_length(model, tokenizer),
        has_chat_template=has_template,
    )
