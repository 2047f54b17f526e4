"""Evaluation end to end on a few questions: a tiny Llama, a real LanceDB table embedded with
a hash embedder, all four modes (with a tiny adapter), runs saved, listed and compared."""

from __future__ import annotations

import pytest

from core.adapters import AdapterRegistry
from core.answering import ALL_MODES, make_context
from core.errors import UserError
from core.evaluation import runner
from core.finetune.config import LoraSettings
from core.finetune.data import TrainExample
from core.finetune.train import train_lora
from core.qa import QAItem, parse_qa_text
from tests.rag.conftest import DOCS, HashEmbedder

ITEMS = [
    QAItem("Who planted the first orchid?", "Ilsa Marek", ("Marek",),
           ("Ilsa Marek", "Corvin", "Harbor", "Velmora"), "orchids.md", "test", "q1"),
    QAItem("How often does the Northline tram leave?", "every 12 minutes", ("12 minutes",),
           ("every 12 minutes", "hourly", "every 3 minutes", "daily"), "trains.txt", "test",
           "q2"),
]


@pytest.fixture
def kb(app_settings):
    from core.rag.ingest import Document
    from core.rag.store import KnowledgeStore

    embedder = HashEmbedder()
    store = KnowledgeStore(app_settings, embedder, embedder_id=app_settings.embedding_model)
    store.add_documents("mini", [Document(n, t, n.rsplit(".", 1)[1]) for n, t in DOCS.items()])
    return embedder


def test_four_modes_end_to_end(app_settings, kb, fresh_llama, fresh_generator, tiny_tokenizer):
    trained = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", DOCS["orchids.md"])],
                         LoraSettings(epochs=2, learning_rate=1e-2))
    AdapterRegistry.of(app_settings).save(trained.model, "mini-ad", {"knowledge_base": "mini"})
    ctx = make_context(app_settings, "mini", adapter="mini-ad", modes=ALL_MODES, top_k=2,
                       search="vector", max_new_tokens=8, generator=fresh_generator(),
                       embedder=kb)
    seen = []
    run = runner.evaluate(ITEMS, list(ALL_MODES), ctx, kb,
                          progress=lambda f, msg: seen.append(f), meta={"kb": "mini"})
    assert seen == [0.2, 0.4, 0.6, 0.8, 1.0]  # one batch (both questions), once per mode
    assert run["n"] == 2 and len(run["rows"]) == 10 and not run["cancelled"]
    for mode in ALL_MODES:
        agg = run["aggregates"][mode]
        scored = ("exact_match", "answer_hit", "f1", "relevance") + (
            ("mc_accuracy", "mc_accuracy_sum") if mode != "extractive" else ())
        for metric in scored:
            assert 0.0 <= agg[metric] <= 1.0, (mode, metric)
            low, high = agg["ci95"][metric]
            assert 0.0 <= low <= agg[metric] <= high <= 1.0, (mode, metric)
        assert agg["seconds_per_question"] > 0 or mode == "extractive"
        assert agg["extractive_rate"] == (1.0 if mode == "extractive" else 0.0)  # fallback off
        assert agg["new_only"]["n"] == sum(r["known"] is False for r in run["rows"]
                                           if r["mode"] == mode)
    extractive = run["aggregates"]["extractive"]
    assert extractive["mc_accuracy"] is None
    assert "no model" in extractive["unavailable"]["mc_accuracy"]
    # a paired verdict for every pair of modes on every accuracy-like metric they share
    pairs = {(c["a"], c["b"], c["metric"]) for c in run["comparisons"]}
    assert ("base", "rag", "answer_hit") in pairs and ("rag", "finetuned", "f1") in pairs
    assert ("base", "extractive", "mc_accuracy") not in pairs  # the baseline has no choice
    assert len(run["comparisons"]) == 10 * 3 + 6  # 10 pairs x 3 text metrics + 6 MC pairs
    assert all(c["ci95"][0] <= c["delta"] <= c["ci95"][1] for c in run["comparisons"])
    assert run["provenance"]["modes"]["finetuned"]["adapter"] == "mini-ad"
    assert run["provenance"]["modes"]["extractive"]["generator"] is None
    # Retrieval metrics exist exactly for the retrieving modes; the others say why.
    rag, ft_rag = run["aggregates"]["rag"], run["aggregates"]["finetuned+rag"]
    assert rag["hit_rate"] is not None and 0.5 <= rag["mrr"] <= 1.0
    assert (rag["hit_rate"], rag["mrr"]) == (ft_rag["hit_rate"], ft_rag["mrr"])  # same search
    for mode in ("base", "finetuned"):
        assert run["aggregates"][mode]["hit_rate"] is None
        assert "does not retrieve" in run["aggregates"][mode]["unavailable"]["hit_rate"]
    # Fine-tuned rows really come from the adapter view.
    rows = {(r["id"], r["mode"]): r for r in run["rows"]}
    assert rows[("q1", "rag")]["retrieved"][0] == "orchids.md"  # shares 'planted', 'orchid'
    assert rows[("q1", "rag")]["hit"] == 1.0 and rows[("q1", "rag")]["reciprocal_rank"] == 1.0
    assert rows[("q1", "base")]["retrieved"] is None
    # Saved runs round-trip and compare.
    runner.save_run(app_settings, run)
    assert runner.list_runs(app_settings)[0]["id"] == run["id"]
    loaded = runner.load_run(app_settings, run["id"])
    assert loaded["aggregates"] == run["aggregates"]
    table = runner.compare_runs([loaded, loaded])
    assert {t["mode"] for t in table} == set(ALL_MODES)
    runner.delete_run(app_settings, run["id"])
    with pytest.raises(UserError):
        runner.load_run(app_settings, "../etc/passwd")


def test_cancel_stops_between_batches(app_settings, kb, fresh_generator):
    """Cancel is checked per batch of questions: batches of one stop after the first."""
    import threading

    cancel = threading.Event()
    ctx = make_context(app_settings, "mini", modes=["base"], max_new_tokens=4,
                       generator=fresh_generator(), embedder=kb)
    run = runner.evaluate(ITEMS, ["base"], ctx, kb, cancel=cancel, batch_size=1,
                          progress=lambda f, m: cancel.set())
    assert run["cancelled"] and run["n"] == 1


def test_batched_evaluation_gives_the_one_by_one_rows(app_settings, kb, fresh_generator):
    """Batch size changes only timing: predictions, metrics and row order are the same."""
    ctx = make_context(app_settings, "mini", modes=["base", "rag"], max_new_tokens=6,
                       generator=fresh_generator(), embedder=kb)
    one = runner.evaluate(ITEMS, ["base", "rag"], ctx, kb, batch_size=1)
    many = runner.evaluate(ITEMS, ["base", "rag"], ctx, kb, batch_size=8)
    drop = {"seconds", "scoring_seconds"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in many["rows"]] == \
        [{k: v for k, v in r.items() if k not in drop} for r in one["rows"]]
    assert [(r["id"], r["mode"]) for r in many["rows"]] == [
        (i, m) for i in [r["id"] for r in one["rows"][::2]] for m in ("base", "rag")]


def test_finetuned_mode_without_adapter_is_refused(app_settings, kb):
    with pytest.raises(UserError, match="adapter"):
        make_context(app_settings, "mini", modes=["finetuned"], generator=object())
    with pytest.raises(UserError, match="no adapter named 'ghost'"):
        make_context(app_settings, "mini", adapter="ghost", modes=["finetuned"],
                     generator=object())


def test_wins_filter():
    rows = [{"id": "a", "mode": "rag", "f1": 1.0}, {"id": "a", "mode": "finetuned", "f1": 0.0},
            {"id": "b", "mode": "rag", "f1": 0.2}, {"id": "b", "mode": "finetuned", "f1": 0.5},
            {"id": "c", "mode": "rag", "f1": None}, {"id": "c", "mode": "finetuned", "f1": 0.5}]
    assert runner.wins(rows, "f1", "rag", "finetuned") == ["a"]
    assert runner.wins(rows, "f1", "finetuned", "rag") == ["b"]


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "no questions"),
    ("{not json", "line 1: not valid JSON"),
    ('{"question": "q"}', "'answer' must be"),
    ('{"question": "q", "answer": "a", "split": "val"}', "one of train, dev, test"),
    ('{"question": "q", "answer": "a", "choices": ["b", "c"]}', "none of the choices"),
])
def test_bad_qa_files_are_refused_with_the_line(text, fragment):
    with pytest.raises(UserError, match=fragment):
        parse_qa_text(text, "upload.jsonl")
