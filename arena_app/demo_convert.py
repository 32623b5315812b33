"""Convert the demo model's GGUF file once into a plain transformers folder, atomically.

Used by :mod:`arena_app.demo`. The conversion runs in a child Python (``python -m arena_app.demo_convert
convert GGUF OUT``) so its ~1.2 GB peak goes back to the OS, writes into a temporary sibling folder renamed
into place only after a completion marker is written, and holds a file lock so concurrent first starts
convert once. An interrupted conversion therefore never leaves a folder that looks complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Progress = Callable[[str], None]
Converter = Callable[[Path, Path, Progress], None]

SAVE_DTYPE = "bfloat16"  # 260 MiB on disk instead of 517 MiB for float32
MARKER = "arena-demo-complete.json"  # written last: its presence means the folder is complete
CONVERT_TIMEOUT_S = 900.0


class DemoError(RuntimeError):
    """The demo models could not be prepared or started; the message says how to fix it."""


def is_complete(folder: Path) -> bool:
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def ensure_converted(gguf: Path, target: Path, progress: Progress, convert: Converter | None = None) -> Path:
    """Return ``target`` holding the converted model, converting ``gguf`` into it first if needed.

    The conversion writes into a temporary sibling folder that is renamed to ``target`` only after the
    completion marker is written, so ``target`` is either absent or complete. A file lock serialises
    concurrent first starts; leftovers of interrupted conversions are removed under that lock.
    """
    if is_complete(target):
        progress(f"Demo model: using the converted copy in {target}.")
        return target
    convert = convert or convert_in_subprocess
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f".{target.name}.lock"):
        if is_complete(target):  # another process finished while we waited for the lock
            return target
        for stale in target.parent.glob(f".{target.name}.tmp-*"):  # folders and logs of failed runs
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
        if target.exists():
            shutil.rmtree(target)  # not ours to trust: no completion marker
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        try:
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
            convert(gguf, tmp, progress)
            marker = {"source": str(gguf), "source_bytes": gguf.stat().st_size, "dtype": SAVE_DTYPE}
            (tmp / MARKER).write_text(json.dumps(marker))
            os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    progress(f"Demo model: converted and cached in {target}; later starts reuse it.")
    return target


def convert_in_subprocess(gguf: Path, out: Path, progress: Progress) -> None:
    """Run the GGUF -> transformers conversion in a child Python, reporting progress every 10 s."""
    progress(
        f"Demo model: converting {gguf.name} to a transformers folder (first start only; this takes "
        "about a minute and ~1.2 GB of memory)..."
    )
    log_path = out.parent / f"{out.name}.log"
    cmd = [sys.executable, "-m", "arena_app.demo_convert", "convert", str(gguf), str(out)]
    start = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=offline_env())
        try:
            while True:
                try:
                    rc = proc.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - start
                    if elapsed > CONVERT_TIMEOUT_S:
                        limit = f"{CONVERT_TIMEOUT_S:.0f} s"
                        raise DemoError(f"Demo model conversion took over {limit}") from None
                    progress(f"Demo model: still converting ({elapsed:.0f} s so far)...")
        except BaseException:
            stop_process(proc)
            raise
    if rc != 0:
        raise DemoError(
            f"Demo model conversion failed (exit code {rc}; full output in {log_path}). "
            f"Last lines:\n{log_tail(log_path)}"
        )
    log_path.unlink(missing_ok=True)
    progress(f"Demo model: conversion finished in {time.monotonic() - start:.0f} s.")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def offline_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _convert(gguf: Path, out: Path) -> None:
    """The conversion itself (runs in the child process)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses a GGUF-loaded (dequantized) model until the quantizer traces are gone.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model = model.to(getattr(torch, SAVE_DTYPE))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "convert":
        sys.exit("usage: python -m arena_app.demo_convert convert GGUF_FILE OUT_DIR")
    _convert(Path(sys.argv[2]), Path(sys.argv[3]))
