"""Incremental detokenisation and stop-string matching, on the tiny model's byte-level BPE tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workers.textstream import IncrementalDetokenizer, StopMatcher


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)


def test_token_by_token_deltas_rebuild_multibyte_text(tokenizer: Any) -> None:
    text = "Héllo wörld → 日本語 🙂 done"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(text) // 2  # many characters span several byte tokens
    detok = IncrementalDetokenizer(tokenizer)
    deltas = [detok.push([i]) for i in ids]
    deltas.append(detok.flush())
    assert "".join(deltas) == text
    assert not any("\ufffd" in d for d in deltas)  # never half a character


def test_special_tokens_do_not_reach_the_text(tokenizer: Any) -> None:
    detok = IncrementalDetokenizer(tokenizer)
    ids = tokenizer("Hi", add_special_tokens=False)["input_ids"] + [
        tokenizer.convert_tokens_to_ids("<|im_end|>")
    ]
    assert detok.push(ids) + detok.flush() == "Hi"


def test_stop_string_split_across_pushes_is_never_emitted() -> None:
    matcher = StopMatcher(["STOP", "\nUser:"])
    out = []
    for piece in ["Hello ", "wor", "ld S", "TO", "P and more"]:
        safe, stopped = matcher.push(piece)
        out.append(safe)
        if stopped:
            break
    assert stopped
    assert "".join(out) == "Hello world "


def test_held_back_text_is_released_when_no_stop_follows() -> None:
    matcher = StopMatcher(["STOP"])
    safe, stopped = matcher.push("abcST")
    assert (safe, stopped) == ("abc", False)  # "ST" could be the start of "STOP"
    safe, stopped = matcher.push("x")
    assert (safe, stopped) == ("STx", False)
    safe, stopped = matcher.push("ST")
    assert (safe, stopped) == ("", False)
    assert matcher.flush() == "ST"


def test_no_stops_passes_text_through() -> None:
    matcher = StopMatcher([])
    assert matcher.push("anything") == ("anything", False)
    assert matcher.flush() == ""


def test_earliest_stop_wins() -> None:
    matcher = StopMatcher(["cd", "b"])
    assert matcher.push("abcd") == ("a", True)
