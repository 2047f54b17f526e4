"""core.evaluation.versions: before/after of a feedback-trained adapter on a tiny Llama. Both
versions answer the same questions through the evaluation, deltas are after - before, the
previous version is the parent adapter (or the base model), and the CLI prints the JSON
contract."""

from __future__ import annotations

import json

import pytest

from core.adapters import AdapterRegistry, helped_label
from core.cli import main
from core.errors import UserError
from core.evaluation import runner
from core.evaluation.versions import (
    compare_versions,
    default_items,
    metric_deltas,
    paired_bootstrap,
    verdict,
)
from core.finetune.config import LoraSettings
from core.finetune.data import TrainExample
from core.finetune.train import train_lora
from tests.evaluation.test_runner import ITEMS  # the same two questions
from tests.finetune.conftest import fresh_generator, fresh_llama, one_torch_thread
from tests.rag.conftest import HashEmbedder

__all__ = ["fresh_generator", "fresh_llama", "one_torch_thread"]



def test_metric_deltas_are_after_minus_before():
    """F1 0.25 -> 0.5 gives +0.25; EM 1 -> 0 gives -1; a metric missing on a side gives None."""
    before = {"f1": 0.25, "exact_match": 1.0, "hit_rate": None, "seconds_per_question": 2.0}
    after = {"f1": 0.5, "exact_match": 0.0, "hit_rate": 0.5, "seconds_per_question": 1.5}
    out = metric_deltas(before, after)
    assert (out["f1"], out["exact_match"], out["hit_rate"]) == (0.25, -1.0, None)
    assert out["seconds_per_question"] == -0.5 and out["mrr"] is None


@pytest.fixture
def two_versions(app_settings, fresh_llama, tiny_tokenizer):
    """fb-v1 (no parent) and fb-v2 (parent fb-v1): two different LoRA weights, saved through
    the one registry with feedback metadata."""
    text = "Head gardener Ilsa Marek planted the first orchid in 2011."
    for name, lr, parent in (("fb-v1", 1e-2, None), ("fb-v2", 5e-2, "fb-v1")):
        trained = train_lora(fresh_llama(), tiny_tokenizer, [TrainExample("", text)],
                             LoraSettings(epochs=2, learning_rate=lr))
        AdapterRegistry.of(app_settings).save(trained.model, name, {
            "kind": "feedback", "source": "feedback", "parent_adapter": parent})
    return app_settings


@pytest.mark.parametrize(("adapter", "label", "before_mode"),
                         [("fb-v2", "fb-v1", "finetuned"), ("fb-v1", "base model", "base")])
def test_compare_evaluates_both_versions_on_the_same_questions(two_versions, fresh_generator,
                                                               adapter, label, before_mode):
    settings = two_versions
    seen: list[float] = []
    out = compare_versions(settings, adapter, ITEMS, generator=fresh_generator(),
                           embedder=HashEmbedder(), max_new_tokens=6,
                           progress=lambda f, _m: seen.append(f))
    assert out["before"]["label"] == label and out["after"]["label"] == adapter
    assert out["n"] == 2 and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    before = runner.load_run(settings, out["run_ids"]["before"])
    after = runner.load_run(settings, out["run_ids"]["after"])
    # the previous version really is the parent adapter, or the base model in "base" mode
    assert before["modes"] == [before_mode] and before["adapter"] == (
        "" if label == "base model" else label)
    assert after["modes"] == ["finetuned"] and after["adapter"] == adapter
    assert [r["id"] for r in before["rows"]] == [r["id"] for r in after["rows"]] == ["q1", "q2"]
    b, a = out["before"]["modes"]["finetuned"], out["after"]["modes"]["finetuned"]
    assert b == before["aggregates"][before_mode] and a == after["aggregates"]["finetuned"]
    for metric in ("exact_match", "f1", "mc_accuracy", "relevance"):
        assert 0.0 <= a[metric] <= 1.0 and 0.0 <= b[metric] <= 1.0
        assert out["delta"]["finetuned"][metric] == round(a[metric] - b[metric], 4)
    pairs = out["questions"]
    assert [(p["id"], p["before"], p["after"]) for p in pairs] == [
        (rb["id"], rb["prediction"], ra["prediction"])
        for rb, ra in zip(before["rows"], after["rows"], strict=True)]
    # the verdict (answer hit, paired bootstrap) is stored in the adapter's metadata
    stored = AdapterRegistry.of(settings).metadata(adapter)["before_after"]
    assert stored == out["verdict"]
    assert stored["n"] == 2 and stored["before_label"] == label
    assert stored["before"] == b["answer_hit"] and stored["after"] == a["answer_hit"]
    assert stored["helped"] == (stored["delta_ci95"][0] > 0)
    listed = next(r for r in AdapterRegistry.of(settings).list() if r["name"] == adapter)
    assert listed["helped"].split(":")[0] in ("yes", "no", "unclear")


def test_paired_bootstrap_and_verdict_known_cases():
    """Identical lists: every resample's mean difference is 0. After right on 30 of 40
    questions where before was always wrong: mean 0.75, resampled like a binomial mean with
    sd = sqrt(0.75·0.25/40) = 0.068, so the interval is about 0.75 ± 0.13, above 0."""
    same = [1.0, 0.0, 1.0, 0.0]
    assert paired_bootstrap(same, same) == (0.0, 0.0)
    before, after = [0.0] * 40, [1.0] * 30 + [0.0] * 10
    low, high = paired_bootstrap(before, after, seed=3)
    assert 0.58 < low < 0.66 and 0.84 < high < 0.92
    assert paired_bootstrap(before, after, seed=3) == (low, high)  # seeded
    v = verdict(before, after, mode="rag")
    assert (v["before"], v["after"], v["delta"], v["n"], v["helped"]) == (0.0, 0.75, 0.75, 40,
                                                                          True)
    assert not verdict(after, after)["helped"]


@pytest.mark.parametrize(("result", "label"), [
    ({"metric": "answer_hit", "delta": 0.12, "delta_ci95": [0.05, 0.19]}, "yes: +0.120 answer_hit"),
    ({"metric": "answer_hit", "delta": 0.04, "delta_ci95": [-0.02, 0.10]},
     "unclear: +0.040 answer_hit"),
    ({"metric": "answer_hit", "delta": -0.1, "delta_ci95": [-0.2, -0.01]},
     "no: -0.100 answer_hit"),
    (None, ""),
])
def test_adapter_list_says_whether_it_helped(result, label):
    assert helped_label(result) == label


def test_compare_refuses_bad_input(two_versions):
    with pytest.raises(UserError, match="adapter modes only"):
        compare_versions(two_versions, "fb-v2", ITEMS, modes=("base",))
    with pytest.raises(UserError, match=r"no adapter named 'nope'.*available: fb-v1, fb-v2"):
        compare_versions(two_versions, "nope", ITEMS)
    with pytest.raises(UserError, match="no questions"):
        compare_versions(two_versions, "fb-v2", [])


def test_default_items_are_the_test_split_limited():
    items = default_items(3)
    assert len(items) == 3 and {i.split for i in items} == {"test"}
    with pytest.raises(UserError, match="at least 1"):
        default_items(0)


def test_cli_compare_prints_before_after_delta(app_settings, monkeypatch, capsys):
    calls = {}

    def fake(settings, adapter, items, modes, *, kb, progress):
        calls.update(adapter=adapter, n=len(items), modes=modes, kb=kb)
        return {"adapter": adapter, "before": {}, "after": {}, "delta": {}}

    monkeypatch.setattr("core.evaluation.versions.compare_versions", fake)
    monkeypatch.setenv("NLPLAB_FEEDBACK_COMPARE_LIMIT", "5")
    assert main(["feedback", "compare", "--adapter", "fb-v2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"before", "after", "delta"} <= set(out)
    assert calls == {"adapter": "fb-v2", "n": 5, "modes": ["finetuned"], "kb": "default"}
    assert main(["feedback", "compare", "--adapter", "fb-v2", "--limit", "2"]) == 0
    assert calls["n"] == 2
