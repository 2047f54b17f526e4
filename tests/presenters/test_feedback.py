"""The Feedback dashboard's presenter (core.presenters.feedback): drill, ranking, before/after."""

from __future__ import annotations

import pytest

from core.presenters import feedback as presenter

DRILL = {"metric": "answer_hit", "heldout_questions": 20, "before": 0.25, "after": 0.4,
         "delta": 0.15, "adapter": "drill-1", "seconds": 61.0}


@pytest.mark.parametrize("ci, verdict, level", [
    ([0.05, 0.25], "helped", "success"),
    ([-0.3, -0.01], "made it worse", "info"),
    ([-0.05, 0.3], "no clear change (the interval includes 0)", "info"),
])
def test_drill_message_follows_the_interval(ci, verdict, level):
    out = {**DRILL, "delta_ci95": ci}
    said_level, text = presenter.drill_message(out)
    assert presenter.drill_verdict(out) == verdict
    assert said_level == level and text.endswith(f"{verdict}. Adapter drill-1, 61 s.")
    assert "0.250 before, 0.400 after; delta +0.150" in text


def test_drill_bars_name_both_versions():
    assert presenter.drill_bars({**DRILL, "delta_ci95": [0, 0]}) == [
        {"version": "before (base model)", "answer_hit": 0.25},
        {"version": "after (drill-1)", "answer_hit": 0.4}]


def test_ranking_rows_print_the_interval_rounded():
    """950.4 -> 950 and 1049.6 -> 1050 (rounded half to even, no decimals)."""
    rows = presenter.ranking_rows([{"group": "rag", "rating": 1000.0, "ci95": (950.4, 1049.6)}])
    assert rows == [{"group": "rag", "rating": 1000.0, "ci95": "950 – 1050"}]
    assert presenter.ranking_caption(7).startswith("7 games:")


def test_feedback_adapters_keep_feedback_and_drill_sources_only():
    adapters = [{"name": "a", "source": "feedback"}, {"name": "b", "source": "drill"},
                {"name": "c", "source": "knowledge"}, {"name": "d"}]
    assert presenter.feedback_adapters(adapters) == ["a", "b"]


def test_compare_bars_skip_metrics_that_were_not_computed():
    side = {"exact_match": 0.5, "f1": None}
    out = {"before": {"label": "base", "modes": {"finetuned": side}},
           "after": {"label": "fb-2", "modes": {"finetuned": {"exact_match": 0.75}}}}
    assert presenter.compare_bars(out, "finetuned") == [
        {"metric": "exact_match", "version": "before: base", "value": 0.5},
        {"metric": "exact_match", "version": "after: fb-2", "value": 0.75}]


@pytest.mark.parametrize("snap, kept", [
    ({"error": None, "result": 3}, {"k": 3}),
    ({"error": "boom", "result": None}, {}),
])
def test_keep_result_keeps_only_a_finished_job_s_result(snap, kept):
    state: dict = {}
    presenter.keep_result(state, "k", snap)
    assert state == kept


def test_keep_result_converts_what_it_keeps():
    state: dict = {}
    presenter.keep_result(state, "k", {"error": None, "result": 2}, convert=lambda r: r * 10)
    assert state == {"k": 20}
