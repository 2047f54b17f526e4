"""Bradley-Terry ratings on the Elo scale: a hand-computed three-model example and the games
the dashboard derives from preferences and thumbs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import main
from core.feedback.ranking import elo, fit_strengths, games_from_feedback, ratings
from core.feedback.store import open_store
from tests.feedback.conftest import seed

# A-B: 6 games, A wins 4; A-C: 5 games, A wins 4; B-C: 3 games, B wins 1 and 2 ties.
THREE = ([("A", "B", 1.0)] * 4 + [("B", "A", 1.0)] * 2 + [("A", "C", 1.0)] * 4
         + [("C", "A", 1.0)] + [("B", "C", 1.0)] + [("C", "B", 0.5)] * 2)


def test_three_models_match_the_hand_computation():
    """Strengths 4 : 2 : 1 satisfy each pair's likelihood equation n_ij·p_i/(p_i+p_j) = W_ij
    exactly (A-B: 6·4/6 = 4; A-C: 5·4/5 = 4; B-C: 3·2/3 = 2 = 1 win + 2 half-wins), so
    Elo = 400·log10(4, 2, 1) = (240.82, 120.41, 0), shifted to mean 1000:
    (1120.41, 1000.00, 879.59)."""
    p = fit_strengths(THREE, ["A", "B", "C"])
    assert p / p[2] == pytest.approx([4.0, 2.0, 1.0], rel=1e-8)
    rows = ratings(THREE, prior=0, rounds=200, seed=1)
    assert [r["name"] for r in rows] == ["A", "B", "C"]
    assert [r["rating"] for r in rows] == pytest.approx([1120.41, 1000.0, 879.59], abs=0.01)
    assert [r["n"] for r in rows] == [11, 9, 8]
    for r in rows:
        low, high = r["ci95"]
        assert low <= r["rating"] <= high and high > low


def test_400_points_mean_ten_to_one_odds():
    r = elo(np.array([10.0, 1.0]))
    assert r[0] - r[1] == pytest.approx(400.0) and r.mean() == pytest.approx(1000.0)


def test_prior_keeps_an_unbeaten_model_finite_and_first():
    rows = ratings([("x", "y", 1.0)] * 3, rounds=50)
    assert rows[0]["name"] == "x" and np.isfinite(rows[0]["rating"])
    assert 1000 < rows[0]["rating"] < 1400  # pulled in by one virtual tie per pair


def test_ties_alone_give_equal_ratings():
    rows = ratings([("x", "y", 0.5)] * 4, prior=0, rounds=20)
    assert [r["rating"] for r in rows] == [1000.0, 1000.0]


def test_games_from_preferences_and_thumbs(store):
    """Seed: preference rag (A) beats base on Q1, rag-base tie on Q2; thumbs on Q1: rag up
    beats base down and finetuned down; Q2 both up (no game); same-group pairs skipped."""
    seed(store)
    games = games_from_feedback(store.list_outputs(), store.list_preferences())
    assert sorted(games) == sorted([("rag", "base", 1.0), ("rag", "base", 0.5),
                                    ("rag", "base", 1.0), ("rag", "finetuned", 1.0)])
    assert len(games_from_feedback(store.list_outputs(), store.list_preferences(),
                                   thumbs=False)) == 2


def test_cli_ranking_prints_ratings(app_settings, capsys):
    store = open_store(app_settings)
    seed(store)
    store.close()
    assert main(["feedback", "ranking", "--rounds", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["by"] == "mode" and out["games"] == 4
    assert out["ratings"][0]["name"] == "rag"
    assert set(out["ratings"][0]) == {"name", "rating", "ci95", "n"}
