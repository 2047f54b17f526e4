"""Intervals and paired verdicts against hand-computed cases (Wilson, paired bootstrap)."""

import numpy as np
import pytest

from core.emotions.metrics import macro_f1, score_intervals
from core.evaluation.intervals import bootstrap_ci, compare, mean_ci, verdict_words, wilson


def test_wilson_known_values():
    """Wilson (1927) for 0/4 and 3/4 at z = 1.96: hand-computed."""
    assert wilson(0, 4) == pytest.approx((0.0, 0.4899), abs=1e-4)
    assert wilson(3, 4) == pytest.approx((0.3006, 0.9544), abs=1e-4)
    assert mean_ci([1, 0, 1, 1]) == [0.3006, 0.9544]
    assert mean_ci([None, None]) is None


def test_graded_scores_get_a_bootstrap_interval_around_the_mean():
    values = [0.2, 0.5, 0.8, 0.4, 0.6] * 4
    low, high = mean_ci(values)
    assert low < np.mean(values) < high and low >= 0.0 and high <= 1.0


@pytest.mark.parametrize(("a", "b", "words"), [
    ([1] * 9 + [0], [0] * 10, "rag beats base by 0.90"),
    ([0] * 10, [1] * 9 + [0], "base beats rag by 0.90"),
    ([1, 0] * 5, [0, 1] * 5, "no detectable difference"),
])
def test_the_verdict_follows_the_paired_interval(a, b, words):
    out = compare(a, b, "rag", "base", "answer_hit")
    assert out["verdict"].startswith(words)
    assert out["ci95"][0] <= out["delta"] <= out["ci95"][1] and out["n"] == 10


def test_questions_only_one_side_scored_are_left_out():
    out = compare([1, None, 1], [0, 1, None], "a", "b", "mc_accuracy")
    assert out["n"] == 1 and out["delta"] == 1.0
    assert compare([None], [1], "a", "b", "f1") is None
    assert verdict_words("a", "b", -0.2, -0.3, -0.1) == "b beats a by 0.20 [0.10, 0.30]"


def test_macro_f1_matches_sklearn_and_gets_an_interval():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, 300))
    assert macro_f1(y, p, 4) == pytest.approx(f1_score(y, p, average="macro"))
    ci = score_intervals(y, p, 4)
    assert ci["macro_f1"][0] < macro_f1(y, p, 4) < ci["macro_f1"][1]
    assert bootstrap_ci(lambda idx: 1.0, 5) == [1.0, 1.0]


def test_format_interval_writes_two_decimals_and_nothing_for_none():
    from core.evaluation.intervals import format_interval

    assert format_interval([0.612, 0.7]) == "[0.61, 0.70]"
    assert format_interval(None) == "" and format_interval([]) == ""


def test_a_zero_difference_prints_without_a_minus_sign():
    assert verdict_words("a", "b", -0.0, -0.001, 0.0) == (
        "no detectable difference (+0.00 [+0.00, +0.00])")
    assert verdict_words("a", "b", -0.1, -0.3, 0.1) == (
        "no detectable difference (-0.10 [-0.30, +0.10])")
