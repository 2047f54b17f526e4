"""Real models, end to end (slow tier): a short experiment on three small documents with no
QA file: derived questions, a 15-second fine-tune of SmolLM2, all five modes, costs, freshness
and the HTML report. What must hold whatever the 135M model answers: the seven keys, every
mode scored with intervals, the real estimator's memory for every setup, and the no-model
mode reading the *edited* value after the re-index (the base copy really changed)."""

from __future__ import annotations

import pytest

from core.answering import ALL_MODES
from core.experiment.config import ExperimentConfig
from core.experiment.run import RESULT_KEYS, run_experiment
from tests.experiment.conftest import DOCS


@pytest.mark.slow
def test_short_real_experiment(app_settings, real_generator, real_embedder, tmp_path):
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    store = KnowledgeStore(app_settings, real_embedder)
    store.add_documents("exp", [Document(n, t, "md") for n, t in DOCS.items()])
    result = run_experiment(app_settings, ExperimentConfig(kb="exp", minutes=0.25,
                                                           max_questions=4),
                            generator=real_generator, embedder=real_embedder, store=store,
                            report_path=tmp_path / "report.html")
    assert tuple(result) == RESULT_KEYS and result["questions"]["n"] == 4
    for mode in ALL_MODES:
        agg = result["modes"][mode]
        assert agg["n"] == 4 and agg["ci95"]["answer_hit"] is not None
    memory = result["costs"]["serving_memory_mib"]
    assert all(memory[m]["int4"] < memory[m]["int8"] < memory[m]["fp16"] for m in ALL_MODES)
    assert memory["finetuned+rag"]["fp16"] > memory["rag"]["fp16"] > memory["extractive"]["fp16"]
    assert result["costs"]["training"]["steps"] >= 1
    fresh = result["freshness"]
    assert fresh["new"] != fresh["old"] and fresh["reindex_seconds"] < 60
    assert fresh["modes"]["extractive"]["says_new"], fresh  # the re-indexed copy has the edit
    assert not fresh["modes"]["extractive"]["says_old"]
    page = (tmp_path / "report.html").read_text()
    assert page.count('class="plotly-graph-div"') >= 3
