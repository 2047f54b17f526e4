"""Known-answer tests for the dashboard numbers (data: ``seed`` in conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.feedback.schema import OutputRecord
from core.feedback.stats import (
    filter_records,
    records_frame,
    reward_over_time,
    summary,
    up_rates,
    wilson_interval,
    win_rates,
)
from tests.feedback.conftest import seed


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (8, 10, 0.4902, 0.9433),   # derived in wilson_interval's docstring
    (0, 5, 0.0, 0.4345),       # p=0: centre = half, high = z²/(n+z²) = 3.8416/8.8416
    (5, 5, 0.5655, 1.0),       # symmetric to the line above: 1 - 0.4345
    (1, 2, 0.0945, 0.9055),    # p=.5: centre .5, half = 1.96·sqrt(.125 + .2401)/2.9208 = .4055
    (0, 0, 0.0, 1.0),          # no data: uninformative
])
def test_wilson_known_answers(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert (round(lo, 4), round(hi, 4)) == (low, high)


@pytest.mark.parametrize(("k", "n"), [(3, 2), (-1, 2), (0, -1)])
def test_wilson_rejects_impossible_counts(k, n):
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(k, n)


def test_up_rates_and_summary_per_mode(store):
    """base: 1 up 1 down (+1 unrated, ignored); classifier 1/1; finetuned 0/1; rag 2/2."""
    seed(store)
    rows = {r["group"]: r for r in up_rates(store.list_outputs())}
    assert {g: (r["up"], r["n"]) for g, r in rows.items()} == {
        "base": (1, 2), "classifier": (1, 1), "finetuned": (0, 1), "rag": (2, 2)}
    assert rows["base"]["up_rate"] == 0.5
    assert (rows["rag"]["wilson_low"], rows["rag"]["wilson_high"]) == wilson_interval(2, 2)
    s = summary(store.list_outputs(), store.list_preferences())
    assert (s["outputs"], s["rated"], s["up"], s["down"], s["preferences"]) == (7, 6, 4, 2, 2)
    assert [m["mode"] for m in s["modes"]] == ["base", "classifier", "finetuned", "rag"]


def test_win_rates_count_ties_as_half(store):
    """p1: rag beats base; p2: tie. rag: 1 win 1 tie -> 0.75; base: 1 loss 1 tie -> 0.25."""
    seed(store)
    outputs = {r.id: r for r in store.list_outputs()}
    rows = {r["group"]: r for r in win_rates(store.list_preferences(), outputs)}
    assert (rows["rag"]["wins"], rows["rag"]["losses"], rows["rag"]["ties"]) == (1, 0, 1)
    assert rows["rag"]["win_rate"] == 0.75 and rows["base"]["win_rate"] == 0.25


def _rec(i: int, hour: int, mode: str, rating: str) -> OutputRecord:
    t = datetime(2026, 1, 1, hour, 30, tzinfo=UTC)
    return OutputRecord(id=i, created_at=t, updated_at=t, session_id="s", page="p", mode=mode,
                        prompt="q", output="a", rating=rating,
                        reward=OutputRecord.reward_for(rating))


def test_reward_over_time_buckets_and_running_mean():
    """rag: 10h up, up -> mean 1; 11h down -> mean -1, running mean (2-1)/3 = 1/3."""
    recs = [_rec(1, 10, "rag", "up"), _rec(2, 10, "rag", "up"), _rec(3, 11, "rag", "down"),
            _rec(4, 10, "base", "down")]
    df = reward_over_time(recs, by="mode", freq="h")
    rag = df[df["group"] == "rag"]
    assert list(rag["ratings"]) == [2, 1]
    assert list(rag["mean_reward"]) == [1.0, -1.0]
    assert list(rag["cumulative_mean"]) == pytest.approx([1.0, 1 / 3])
    assert list(df[df["group"] == "base"]["cumulative_mean"]) == [-1.0]
    assert reward_over_time([], by="model").empty
    per_rating = reward_over_time(recs, by="mode")  # freq=None: one point per rating
    assert list(per_rating[per_rating["group"] == "rag"]["cumulative_mean"]) == pytest.approx(
        [1.0, 1.0, 1 / 3])


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, 7),
    ({"modes": ["rag"]}, 2),
    ({"rating": "unrated"}, 1),
    ({"rating": "down", "modes": ["base"]}, 1),
    ({"pages": ["emotions"]}, 1),
    ({"search": "lora"}, 3),              # case-insensitive, in the prompt
    ({"search": "Retrieval + gen"}, 1),   # plain text: '+' is not a regex operator
    ({"search": "wrong"}, 1),             # in the comment
    ({"search": "(unclosed"}, 0),         # would be a regex error; plain text finds nothing
])
def test_filter_records(store, kwargs, expected):
    seed(store)
    assert len(filter_records(records_frame(store.list_outputs()), **kwargs)) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_observed_rate(kn):
    k, n = kn
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= lo <= hi <= 1.0
    if n:
        assert lo <= k / n <= hi
