"""The experiment end to end on tiny models: derived questions, a 15-second fine-tune, all five
modes with intervals and verdicts, costs, freshness, the verdict, the report, the saved run;
the CLI prints exactly the seven keys and refuses bad input with one line."""

from __future__ import annotations

import json

import pytest

from core.answering import ALL_MODES
from core.cli import main
from core.errors import UserError
from core.experiment.run import (
    RESULT_KEYS,
    ExperimentConfig,
    list_experiments,
    load_experiment,
    run_experiment,
)
from core.rag.store import KnowledgeStore


@pytest.fixture
def result(exp_env, tmp_path):
    seen = []
    out = run_experiment(exp_env, ExperimentConfig(kb="exp", minutes=0.25, max_questions=6),
                         progress=lambda f, m: seen.append(f), report_path=tmp_path / "r.html")
    return exp_env, out, seen, tmp_path / "r.html"


def test_one_call_runs_every_stage_and_saves_the_result(result):
    settings, out, seen, html_path = result
    assert tuple(out) == RESULT_KEYS
    assert out["questions"]["n"] == 6 and out["questions"]["derived"]
    assert set(out["modes"]) == set(ALL_MODES)
    for mode, agg in out["modes"].items():
        assert agg["n"] == 6 and agg["ci95"]["answer_hit"] is not None, mode
        assert agg["new_only"] is not None
    pairs = {(c["a"], c["b"]) for c in out["comparisons"] if c["metric"] == "answer_hit"}
    assert ("rag", "finetuned") in pairs and len(pairs) == 10
    costs = out["costs"]
    assert costs["training"]["minutes"] > 0 and costs["training"]["tokens_per_second"] > 0
    assert costs["adapter"]["bytes"] > 0
    memory = costs["serving_memory_mib"]
    assert memory["extractive"]["holds"] == ["embedder"]
    assert memory["finetuned+rag"]["holds"] == ["generator", "embedder", "adapter"]
    assert all(0 <= costs["latency"][m]["p50_seconds"] <= costs["latency"][m]["p95_seconds"]
               for m in ALL_MODES)
    fresh = out["freshness"]
    assert fresh["old"] != fresh["new"] and fresh["reindex_seconds"] > 0
    assert set(fresh["modes"]) == set(ALL_MODES) and fresh["replaced_documents"]
    assert fresh["retrain_seconds"] == pytest.approx(costs["training"]["minutes"] * 60, abs=1)
    assert "exp-fresh" not in KnowledgeStore(settings).names()  # the copy is removed
    assert out["verdict"]["headline"].startswith("On 6 questions from your documents")
    assert seen == sorted(seen) and seen[-1] == 1.0  # progress only moves forward
    assert html_path.is_file() and out["report"]["html"] == str(html_path)
    saved = load_experiment(settings, out["report"]["id"])
    assert tuple(saved) == RESULT_KEYS and saved["questions"]["n"] == 6
    assert list_experiments(settings)[0]["id"] == out["report"]["id"]


def test_a_reused_adapter_trains_nothing_and_reviewed_questions_are_asked(result):
    settings, first, _, _ = result
    from core.experiment.questions import from_rows

    items = from_rows(first["questions"]["items"][:2])
    again = run_experiment(settings, ExperimentConfig(
        kb="exp", adapter=first["report"]["adapter"], freshness=False), items=items)
    assert again["costs"]["training"]["reused"] and again["questions"]["n"] == 2
    assert again["freshness"] == {"skipped": "turned off"}
    # the user picks the fact and its new value (any question, any value)
    name = first["questions"]["items"][-1]
    chosen = run_experiment(settings, ExperimentConfig(
        kb="exp", adapter=first["report"]["adapter"], fresh_question=name["id"],
        fresh_value="Morwenna Quay"), items=from_rows([name]))
    fresh = chosen["freshness"]
    assert (fresh["question_id"], fresh["old"], fresh["new"]) == (name["id"], name["answer"],
                                                                  "Morwenna Quay")
    assert fresh["modes"]["extractive"]["says_new"] or fresh["modes"]["rag"] is not None
    with pytest.raises(UserError, match="no question 'g99'"):
        run_experiment(settings, ExperimentConfig(kb="exp", adapter=first["report"]["adapter"],
                                                  fresh_question="g99"), items=items)


def test_cli_prints_exactly_the_seven_keys(exp_env, capsys, tmp_path):
    assert main(["experiment", "--kb", "exp", "--minutes", "0.25", "--max-questions", "3",
                 "--no-freshness", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == list(RESULT_KEYS)
    assert main(["experiment-questions", "--kb", "exp", "--max-questions", "2",
                 "--out", str(tmp_path / "q.jsonl")]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["n"] == 2 and len((tmp_path / "q.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["--kb", "nope"], "knowledge base 'nope' does not exist"),
    (["--kb", "../etc"], "knowledge base name"),
    (["--kb", "exp", "--minutes", "0"], "minutes must be 0.25..600"),
    (["--kb", "exp", "--max-questions", "0"], "max_questions must be 1..500"),
    (["--kb", "exp", "--report", "out.txt"], "must be an .html file"),
    (["--kb", "exp", "--report", "/no/such/dir/r.html"], "folder not found"),
    (["--kb", "exp", "--questions", "/no/such.jsonl"], "QA file not found"),
    (["--kb", "exp", "--adapter", "../x"], "adapter"),
    (["--kb", "exp", "--fresh-value", "a\nb"], "one line"),
])
def test_bad_input_is_one_error_line_and_exit_2(exp_env, capsys, argv, message):
    assert main(["experiment", *argv, "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("error:") and len(err.splitlines()) == 1 and message in err, err
