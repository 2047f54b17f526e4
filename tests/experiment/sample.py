"""A saved experiment result written by hand (no model): what the report and page tests render.
Its question and document text carry HTML that must come out escaped."""

from __future__ import annotations

from core.answering import ALL_MODES
from core.evaluation.intervals import verdict_words

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def sample_result() -> dict:
    hits = {"base": 0.1, "extractive": 0.7, "rag": 0.6, "finetuned": 0.2, "finetuned+rag": 0.55}
    modes = {m: {"n": 20, "answer_hit": v, "exact_match": v / 2, "f1": v, "mc_accuracy":
                 None if m == "extractive" else 0.5,
                 "ci95": {"answer_hit": [max(0.0, v - 0.15), min(1.0, v + 0.15)],
                          "mc_accuracy": None if m == "extractive" else [0.3, 0.7]},
                 "new_only": {"n": 18, "answer_hit": v}} for m, v in hits.items()}
    comparisons = []
    names = list(ALL_MODES)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = round(hits[a] - hits[b], 2)
            comparisons.append({"a": a, "b": b, "metric": "answer_hit", "n": 20, "delta": d,
                                "ci95": [d - 0.2, d + 0.2],
                                "verdict": verdict_words(a, b, d, d - 0.2, d + 0.2)})
    memory = {m: {"holds": [], "fp16": 300.0, "int8": 180.0, "int4": 110.0} for m in ALL_MODES}
    latency = {m: {"n": 20, "p50_seconds": 0.5, "p95_seconds": 0.9, "tokens_per_answer": 9.0}
               for m in ALL_MODES}
    return {
        "questions": {"n": 1, "derived": True, "items": [
            {"id": "g1", "type": "year", "question": f"Opened in which year {HOSTILE}?",
             "answer": "1994", "choices": ["1994", "1871", "2004", "2021"],
             "source": f"doc{HOSTILE}.md"}]},
        "modes": modes, "comparisons": comparisons,
        "costs": {"training": {"minutes": 8.0, "tokens_per_second": 300.0,
                               "losses": [2.0, 1.5, 1.1, 0.9]},
                  "adapter": {"bytes": 5_000_000, "mib": 4.77},
                  "serving_memory_mib": memory, "memory_basis": "estimated",
                  "latency": latency},
        "freshness": {"question": f"Opened in which year {HOSTILE}?", "document": "doc.md",
                      "old": "1994", "new": "1997", "reindex_seconds": 1.2,
                      "retrain_seconds": 480.0,
                      "modes": {"rag": {"answer": f"1997 {HOSTILE}", "says_new": True,
                                        "says_old": False}}},
        "verdict": {"headline": "On 20 questions from your documents, RAG beats fine-tuning.",
                    "lines": [f"A line {HOSTILE}"], "pairs": []},
        "report": {"id": "20260101-000000-abcdef", "title": "RAG vs fine-tuning on test",
                   "settings": {"kb": "test"}, "provenance": {"rag": {"generator": "tiny"}}},
    }
