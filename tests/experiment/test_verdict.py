"""The verdict is a template over the numbers: its headline follows the paired interval of rag
vs finetuned, and every sentence carries the figures it was written from."""

from __future__ import annotations

import pytest

from core.experiment.verdict import find, write_verdict


def comparison(a, b, delta, low, high, metric="answer_hit"):
    from core.evaluation.intervals import verdict_words

    return {"a": a, "b": b, "metric": metric, "n": 20, "delta": delta, "ci95": [low, high],
            "verdict": verdict_words(a, b, delta, low, high)}


MODES = {m: {"n": 20, "answer_hit": v, "ci95": {"answer_hit": [v - 0.1, v + 0.1]},
             "new_only": {"n": 15, "answer_hit": v - 0.05}}
         for m, v in {"base": 0.1, "extractive": 0.7, "rag": 0.6, "finetuned": 0.2,
                      "finetuned+rag": 0.55}.items()}
COSTS = {"training": {"minutes": 8.0, "tokens_per_second": 310.0},
         "serving_memory_mib": {"rag": {"int8": 300.0}, "finetuned": {"int8": 280.0}},
         "latency": {"rag": {"p50_seconds": 0.8}, "finetuned": {"p50_seconds": 0.5}}}
FRESH = {"old": "1994", "new": "1997", "document": "history.md", "reindex_seconds": 1.4,
         "retrain_seconds": 480.0,
         "modes": {"rag": {"says_new": True, "says_old": False},
                   "finetuned": {"says_new": False, "says_old": True},
                   "finetuned+rag": {"says_new": False, "says_old": False}}}


@pytest.mark.parametrize(("delta", "low", "high", "words"), [
    (0.4, 0.2, 0.6, "RAG beats fine-tuning: rag beats finetuned by 0.40 [0.20, 0.60]"),
    (-0.3, -0.5, -0.1, "fine-tuning beats RAG: finetuned beats rag by 0.30 [0.10, 0.50]"),
    (0.1, -0.1, 0.3, "no difference between RAG and fine-tuning was detected"),
])
def test_headline_follows_the_paired_interval(delta, low, high, words):
    verdict = write_verdict(MODES, [comparison("rag", "finetuned", delta, low, high)], COSTS,
                            FRESH, 20)
    assert verdict["headline"].startswith("On 20 questions from your documents, ")
    assert words in verdict["headline"]


def test_lines_carry_the_numbers_they_were_written_from():
    comps = [comparison("rag", "finetuned", 0.4, 0.2, 0.6),
             comparison("rag", "finetuned+rag", 0.05, -0.1, 0.2),
             comparison("base", "finetuned", -0.1, -0.25, 0.05),
             comparison("extractive", "rag", 0.1, -0.05, 0.25)]
    verdict = write_verdict(MODES, comps, COSTS, FRESH, 20)
    text = "\n".join(verdict["lines"])
    assert "Highest answer hit: extractive, 0.70 [0.60, 0.80]." in text
    assert "RAG vs fine-tuning: rag beats finetuned by 0.40 [0.20, 0.60]." in text
    assert "What the adapter adds to RAG: no detectable difference (-0.05 [-0.20, +0.10])." in text
    assert "already answered 5 of 20 questions; on the other 15: rag 0.55" in text
    assert "fine-tuning took 8.0 min at 310 tokens/s" in text
    assert "rag serves in about 300 MiB at int8 with a p50 latency of 0.80 s" in text
    assert ("After changing 1994 to 1997 in history.md and re-indexing (1.4 s; retraining "
            "takes about 8.0 min): rag gave the new value, finetuned gave the old value, "
            "finetuned+rag gave neither value.") in text
    assert [p["a"] for p in verdict["pairs"]] == ["rag", "finetuned+rag", "finetuned", "rag"]


def test_a_flipped_pair_is_negated():
    c = comparison("rag", "finetuned+rag", 0.2, 0.1, 0.3)
    flipped = find([c], "finetuned+rag", "rag")
    assert flipped["delta"] == -0.2 and flipped["ci95"] == [-0.3, -0.1]
    assert flipped["verdict"] == "rag beats finetuned+rag by 0.20 [0.10, 0.30]"


def test_missing_pieces_are_said_not_invented():
    verdict = write_verdict({"base": MODES["base"]}, [], {}, {"skipped": "turned off"}, 3)
    assert "were not both run" in verdict["headline"]
    assert "Freshness was not measured: turned off." in verdict["lines"]
