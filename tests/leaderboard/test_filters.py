"""FastChat's offline rules as masks: the daily vote cap per judge and the excluded-models list."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from leaderboard.filters import daily_cap_mask, excluded_models_mask, resolve_models


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def fastchat_limit_user_votes(judge, tstamp, cap, offset=0.0):
    """FastChat's loop, transcribed on plain lists: sort by time, per date keep the first ``cap`` votes
    of each judge (``groupby("judge").head(cap)``)."""
    # stable, like ours (FastChat's sort_values quicksort leaves equal times in no set order)
    order = sorted(range(len(judge)), key=lambda i: tstamp[i])
    seen: dict[tuple[int, int], int] = {}
    keep = [False] * len(judge)
    for i in order:
        key = (judge[i], int((tstamp[i] + offset) // 86_400))
        seen[key] = seen.get(key, 0) + 1
        keep[i] = seen[key] <= cap
    return keep


def test_the_first_votes_of_each_utc_day_are_kept_per_judge():
    judge = [7, 7, 7, 8, 7, 7, 7]
    times = [
        "2026-03-01T09:00:00",
        "2026-03-01T10:00:00",
        "2026-03-01T23:59:59",  # third vote of the day: over a cap of 2
        "2026-03-01T23:59:59",  # another judge has their own allowance
        "2026-03-02T00:00:00",  # a new UTC day: allowed again
        "2026-03-02T00:00:01",
        "2026-03-02T08:00:00",
    ]
    keep = daily_cap_mask(judge, [ts(t) for t in times], 2)
    assert keep.tolist() == [True, True, False, True, True, True, False]


def test_the_cap_follows_time_not_input_order_and_equal_times_keep_input_order():
    judge = [1, 1, 1, 1]
    t = [ts(f"2026-03-01T{h}:00:00") for h in ("12", "08", "10", "08")]
    # by time: #1 (08:00), #3 (08:00, later in the input), #2 (10:00), #0 (12:00)
    assert daily_cap_mask(judge, t, 2).tolist() == [False, True, False, True]
    assert daily_cap_mask(judge, t, 3).tolist() == [False, True, True, True]


def test_matches_fastchats_semantics_on_random_votes_and_with_a_day_offset():
    rng = np.random.default_rng(0)
    n = 3000
    judge = rng.integers(0, 15, n)
    t = ts("2026-01-01T00:00:00") + rng.integers(0, 10 * 86_400, n).astype(float)
    for cap, offset in [(1, 0.0), (5, 0.0), (20, 0.0), (5, -8 * 3600.0)]:
        got = daily_cap_mask(judge, t, cap, day_offset_s=offset)
        assert got.tolist() == fastchat_limit_user_votes(judge.tolist(), t.tolist(), cap, offset)
    # a shifted day boundary moves votes between days
    assert not np.array_equal(
        daily_cap_mask(judge, t, 5), daily_cap_mask(judge, t, 5, day_offset_s=-8 * 3600)
    )


def test_daily_cap_rejects_bad_input():
    for cap in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="whole number >= 1"):
            daily_cap_mask([1], [0.0], cap)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="equal length"):
        daily_cap_mask([1, 2], [0.0], 3)
    with pytest.raises(ValueError, match="finite"):
        daily_cap_mask([1], [float("nan")], 3)
    assert daily_cap_mask([], [], 3).shape == (0,)


def test_excluded_models_drop_battles_with_the_model_on_either_side():
    models = ["alpha", "beta", "gamma"]
    mask, unknown = resolve_models(models, ["gamma", "gpt4-typo"])
    assert mask.tolist() == [False, False, True]
    assert unknown == ["gpt4-typo"]
    keep = excluded_models_mask([0, 2, 1, 0], [1, 0, 2, 2], mask)
    assert keep.tolist() == [True, False, False, False]
    assert excluded_models_mask([0], [1], np.zeros(3, bool)).tolist() == [True]
    with pytest.raises(ValueError, match="out of range"):
        excluded_models_mask([0], [3], mask)
