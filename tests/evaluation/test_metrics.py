"""Metrics against hand-computed cases: SQuAD normalisation, EM/F1 over aliases, retrieval
ranks, grounding and relevance proxies, and None-with-a-reason instead of NaN."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from core.evaluation import metrics as m


@pytest.mark.parametrize(("text", "expected"), [
    ("The Lantern Shed", "lantern shed"),
    ("  An apple, a day!  ", "apple day"),
    ("7.3 km", "7.3 km"),  # a decimal point survives (SQuAD's script would give "73 km")
    ("18,000 x g.", "18000 x g"),  # a thousands separator goes; a final full stop too
    ("Eleven sites", "11 sites"),  # number words are digits on both sides
    ("THEATRE of the Sea", "theatre of sea"),  # 'the' inside 'theatre' survives
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert m.normalize_answer(text) == expected


@pytest.mark.parametrize(("prediction", "golds", "em", "f1"), [
    # identical after normalisation
    ("the Skellwick Haven.", ["Skellwick Haven"], 1.0, 1.0),
    # alias matches exactly: max over golds
    ("287 staff", ["287 people", "287 staff"], 1.0, 1.0),
    # a bare-number alias of an answer with a unit does not count: "287" is not "287 people"
    ("287", ["287 people", "287"], 0.0, 2 / 3),
    # a bare-number answer keeps its bare-number aliases (a year, a count)
    ("11", ["eleven", "11"], 1.0, 1.0),
    # P = 2/2, R = 2/3 -> F1 = 2·1·(2/3) / (1 + 2/3) = 0.8
    ("Blue Harbour", ["blue harbour office"], 0.0, 0.8),
    # P = 1/3, R = 1/1 -> F1 = 2·(1/3)·1 / (4/3) = 0.5
    ("about seven kilometres", ["kilometres"], 0.0, 0.5),
    # no common token
    ("Tolloran", ["Skellwick Haven"], 0.0, 0.0),
    # best alias wins: "9 Quaymarsh Row" vs alias -> F1 1.0 via the first gold
    ("9 Quaymarsh Row", ["9 Quaymarsh Row", "9 Quaymarsh Row, Skellwick Haven"], 1.0, 1.0),
    # repeated tokens count with multiplicity: pred [no, no], gold [no] -> P=1/2, R=1 -> 2/3
    ("no no", ["no"], 0.0, 2 / 3),
])
def test_exact_match_and_f1(prediction, golds, em, f1):
    assert m.exact_match(prediction, golds).value == em
    assert m.f1_score(prediction, golds).value == pytest.approx(f1)


@pytest.mark.parametrize(("prediction", "golds", "hit"), [
    ("It lies 7.3 km north.", ["7.3 km"], 1.0),
    ("It lies 73 km north", ["7.3 km"], 0.0),  # "7.3" never becomes "73"
    ("New members admitted in 2023: 19", ["19 weeks", "19"], 0.0),  # the number needs its unit
    ("The probation lasts 19 weeks.", ["19 weeks", "19"], 1.0),
    ("Spin at 18000 x g", ["18,000 x g"], 1.0),
    ("Spin at 12,000 x g", ["18,000 x g"], 0.0),
    ("It is used in 11 countries.", ["eleven"], 1.0),
    ("It opened in 1931.", ["1931"], 1.0),
])
def test_answer_hit_is_strict_on_numbers(prediction, golds, hit):
    assert m.answer_hit(prediction, golds).value == hit


def test_scored_golds_drop_bare_numbers_only_beside_a_unit():
    assert m.scored_golds(["19 weeks", "19", "nineteen weeks"]) == ["19 weeks", "nineteen weeks"]
    assert m.scored_golds(["1931", "in 1931"]) == ["1931", "in 1931"]
    assert m.is_bare_number("7.3") and m.is_bare_number("eleven") and not m.is_bare_number("7 km")


def test_empty_prediction_scores_zero_and_no_gold_is_missing():
    assert m.f1_score("", ["x"]).value == 0.0
    assert m.exact_match("x", []).value is None and m.exact_match("x", []).reason


@pytest.mark.parametrize(("docs", "k", "hit", "rr"), [
    (["a.md", "b.md", "c.md"], 4, 1.0, 1 / 2),  # first chunk of b.md at rank 2
    (["b.md", "b.md"], 1, 1.0, 1.0),
    (["a.md", "c.md", "d.md", "e.md", "b.md"], 4, 0.0, 1 / 5),  # beyond k: miss, rank 5
    (["a.md"], 4, 0.0, 0.0),
])
def test_hit_rate_and_reciprocal_rank(docs, k, hit, rr):
    assert m.hit_rate_at_k(docs, "b.md", k).value == hit
    assert m.reciprocal_rank(docs, "b.md").value == pytest.approx(rr)


def test_non_retrieving_mode_gets_reasons_not_nan():
    for score in (m.hit_rate_at_k(None, "b.md", 4), m.reciprocal_rank(None, "b.md"),
                  m.grounding_overlap("x", None), m.grounding_cosine(None, "x", None)):
        assert score.value is None and "does not retrieve" in score.reason
    assert m.hit_rate_at_k(["a"], "", 4).reason.startswith("the question names no source")


def test_grounding_overlap_counts_answer_tokens_in_context():
    """Answer tokens [marta, quill, 1998]; context has marta and quill -> 2/3."""
    score = m.grounding_overlap("Marta Quill, 1998", ["The keeper is Marta Quill.", "Other."])
    assert score.value == pytest.approx(2 / 3)
    assert m.grounding_overlap("", ["x"]).value is None
    assert m.grounding_overlap("x", []).reason == "nothing was retrieved"


class AxisEmbedder:
    """Known vectors: 'north' = (1, 0), 'east' = (0, 1), 'northeast' = (1, 1)/√2."""

    table: ClassVar[dict] = {"north": [1.0, 0.0], "east": [0.0, 1.0], "northeast": [1.0, 1.0],
             "south": [-1.0, 0.0]}

    def encode(self, texts):
        return np.array([self.table[t] for t in texts])


def test_cosine_metrics_with_known_vectors():
    e = AxisEmbedder()
    # cos(northeast, north) = 1/√2 ≈ 0.7071; the best chunk is taken
    assert m.grounding_cosine(e, "northeast", ["east", "north"]).value == pytest.approx(
        1 / math.sqrt(2))
    assert m.relevance_cosine(e, "north", "north").value == pytest.approx(1.0)
    assert m.relevance_cosine(e, "north", "south").value == 0.0  # cos = -1, clipped to 0
    assert m.relevance_cosine(None, "north", "x").reason == "no embedder loaded"


def test_mean_score_skips_missing_and_explains_all_missing():
    assert m.mean_score([1.0, None, 0.0], "f1").value == 0.5
    empty = m.mean_score([None, None], "hit_rate")
    assert empty.value is None and "hit_rate" in empty.reason


@pytest.mark.parametrize(("prediction", "golds", "hit"), [
    # a chatty reply that contains the answer: EM 0, hit 1 (punctuation and case ignored)
    ("The keeper is Marta Quill, since 1998.", ["Marta Quill"], 1.0),
    # "7.3 km" and "It lies 7.3 km north." normalise to "73 km" and "it lies 73 km north"
    ("It lies 7.3 km north.", ["7.3 kilometres", "7.3 km"], 1.0),
    # articles are dropped on both sides: "the Lantern Shed" -> "lantern shed"
    ("Try the Lantern-Shed first", ["The Lantern-Shed"], 1.0),
    # whole tokens only: gold "287" is not inside "2870"
    ("About 2870 people", ["287"], 0.0),
    # every gold token must appear, in order
    ("Skellwick is near the Haven", ["Skellwick Haven"], 0.0),
    ("", ["Skellwick Haven"], 0.0),
])
def test_answer_hit(prediction, golds, hit):
    assert m.answer_hit(prediction, golds).value == hit


def test_answer_hit_without_gold_says_why():
    for golds in ([], ["", "  the "]):
        score = m.answer_hit("anything", golds)
        assert score.value is None and "no gold" in score.reason


def test_answer_hit_is_aggregated_per_mode():
    """Two base rows hit 1 and 0 -> mean 0.5; the rag row hits 1."""
    from core.evaluation.runner import aggregate

    rows = [{"mode": "base", "answer_hit": 1.0, "exact_match": 0.0, "seconds": 1.0,
             "reasons": {}},
            {"mode": "base", "answer_hit": 0.0, "exact_match": 0.0, "seconds": 1.0,
             "reasons": {}},
            {"mode": "rag", "answer_hit": 1.0, "exact_match": 1.0, "seconds": 1.0,
             "reasons": {}}]
    agg = aggregate(rows, ["base", "rag"])
    assert (agg["base"]["answer_hit"], agg["rag"]["answer_hit"]) == (0.5, 1.0)
    assert agg["base"]["exact_match"] == 0.0
