"""Exports load with `datasets` and match the stored records row for row (data: conftest.seed)."""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset

from core.errors import UserError
from core.feedback.export import dpo_examples, write_export
from tests.feedback.conftest import seed


def _load(tmp_path, fmt, path):
    builder = "csv" if fmt == "csv" else "json"
    return load_dataset(builder, data_files=str(path), split="train",
                        cache_dir=str(tmp_path / "hf-cache"))


@pytest.fixture
def seeded(store):
    ids = seed(store)
    return store, ids, store.list_outputs(), store.list_preferences()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_raw_exports_round_trip_every_record(tmp_path, seeded, fmt):
    _, _, records, prefs = seeded
    out = tmp_path / f"raw.{fmt}"
    assert write_export(fmt, records, prefs, out) == {"format": fmt, "path": str(out),
                                                      "rows": 7}
    ds = _load(tmp_path, fmt, out)
    assert ds.num_rows == 7
    for row, rec in zip(ds, records, strict=True):
        assert row["id"] == rec.id
        assert (row["prompt"], row["output"], row["mode"]) == (rec.prompt, rec.output, rec.mode)
        assert row["rating"] == rec.rating and row["reward"] == rec.reward
        assert row["adapter_id"] == rec.adapter_id
        assert json.loads(row["extra"]) == rec.extra
        ids = row["retrieved_ids"]
        assert (json.loads(ids) if fmt == "csv" and ids is not None else ids) == rec.retrieved_ids
        assert row["created_at"] == rec.created_at.isoformat()


def test_kto_export_labels_every_rated_answer(tmp_path, seeded):
    """6 rated answers (the unrated one is left out): 4 thumbs-up (true), 2 down (false)."""
    _, _, records, prefs = seeded
    out = tmp_path / "kto.jsonl"
    write_export("kto", records, prefs, out)
    ds = _load(tmp_path, "kto", out)
    assert ds.column_names == ["prompt", "completion", "label"]
    rated = [r for r in records if r.rating]
    assert [(x["prompt"], x["completion"], x["label"]) for x in ds] == [
        (r.prompt, r.output, r.rating == "up") for r in rated]
    assert sum(ds["label"]) == 4


def test_dpo_export_uses_preferences_and_up_down_pairs(tmp_path, seeded):
    """p1 (rag > base on Q1) gives one pair; the tie gives none; Q1's up x downs adds
    rag > finetuned (rag > base is a duplicate); Q2 has two ups, so no pair: 2 rows."""
    _, ids, records, prefs = seeded
    out = tmp_path / "dpo.jsonl"
    write_export("dpo", records, prefs, out)
    ds = _load(tmp_path, "dpo", out)
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    assert [tuple(x.values()) for x in ds] == [
        ("What is LoRA?", "Low-rank adapters.", "A city."),
        ("What is LoRA?", "Low-rank adapters.", "A radio protocol.")]
    examples = dpo_examples(records, prefs)
    assert [(e.output_ids, e.preference_id) for e in examples] == [
        ((ids["q1_rag"], ids["q1_base"]), ids["p1"]), ((ids["q1_rag"], ids["q1_ft"]), None)]


def test_preference_for_b_flips_chosen(store):
    a = store.record_output(session_id="s", page="p", mode="base", prompt="Q", output="meh")
    b = store.record_output(session_id="s", page="p", mode="rag", prompt="Q", output="great")
    store.record_preference(a, b, "b")
    (e,) = dpo_examples(store.list_outputs(), store.list_preferences())
    assert (e.row["chosen"], e.row["rejected"]) == ("great", "meh")


@pytest.mark.parametrize(("fmt", "out", "message"), [
    ("xml", "x.xml", "format must be one of csv|jsonl|kto|dpo"),
    ("csv", "missing-dir/x.csv", "does not exist"),
    ("csv", ".", "must be a file path"),
])
def test_bad_export_requests(tmp_path, fmt, out, message):
    with pytest.raises(UserError, match=message):
        write_export(fmt, [], [], tmp_path / out)


def test_passages_stay_out_of_preference_exports_unless_asked(tmp_path, store):
    """A rated evidence passage (the no-model mode, or the fallback's passage) is not the
    model's text: KTO and DPO leave it out by default and keep it with include_extractive."""
    model = store.record_output(session_id="s", page="compare", mode="rag", prompt="Q",
                                output="The answer.", rating="down")
    store.record_output(session_id="s", page="compare", mode="extractive", prompt="Q",
                        output="A pasted passage.", rating="up")
    store.record_output(session_id="s", page="compare", mode="rag", prompt="Q",
                        output="Another passage.", rating="up", extra={"extractive": True})
    records, prefs = store.list_outputs(), store.list_preferences()
    out = tmp_path / "kto.jsonl"
    assert write_export("kto", records, prefs, out)["rows"] == 1
    assert [json.loads(x)["completion"] for x in out.read_text().splitlines()] == ["The answer."]
    assert write_export("dpo", records, prefs, out)["rows"] == 0  # no model-written up answer
    assert write_export("dpo", records, prefs, out, include_extractive=True)["rows"] == 2
    assert {json.loads(x)["rejected"] for x in out.read_text().splitlines()} == {"The answer."}
    assert model in {r.id for r in records}
