"""``bench/knowledge_injection.py``: every set is labelled dev or test and its files exist,
``--kb-dir/--qa`` adds one set that asks every non-train question, the grid options multiply
into runs, and the no-model baseline picks the choice its passage holds."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "knowledge_injection.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_knowledge_injection", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_every_set_is_dev_or_test_and_on_disk(bench):
    table = bench._sets()
    assert {name for name, s in table.items() if s.label == "dev"} >= {
        "kestrane", "mirrowdell", "tollhaven", "default-dev"}
    assert {name for name, s in table.items() if s.label == "test"} >= {
        "island-council", "valley-railway", "protein-lab-wiki", "default-test"}
    for kb_set in table.values():
        assert kb_set.docs.is_dir() and kb_set.qa.is_file()
    assert set(bench.GROUPS["dev"]) | set(bench.GROUPS["test"]) <= set(table)


def _args(**kw):
    base = dict(sets="none", kb_dir="", qa="", label="unseen", minutes=None, epochs=None,
                wordings=None, targets="default", rank=None, lr=None, recipe=None, order=None,
                context_share=None, data=None, sweep=False)
    return SimpleNamespace(**{**base, **kw})


def test_kb_dir_set_asks_every_non_train_question(bench, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("Alpha is 12 metres tall.", encoding="utf-8")
    rows = [{"question": f"Q{i}?", "answer": "12 metres", "source": "a.md", "split": split,
             "choices": ["12 metres", "21 metres", "13 metres", "2 metres"]}
            for i, split in enumerate(("train", "test", "dev"))]
    (tmp_path / "qa.jsonl").write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    sets = bench.chosen_sets(_args(kb_dir=str(tmp_path / "docs"), qa=str(tmp_path / "qa.jsonl")))
    (_name, kb_set), = sets
    assert kb_set.label == "unseen"
    items, documents = bench.set_items(kb_set, 0)
    assert [i.split for i in items] == ["test", "dev"] and documents is None


def test_grid_options_multiply(bench):
    rows = bench.lora_rows(_args(recipe="classic,full", rank="8,16"))
    assert len(rows) == 4
    assert {(r.recipe, r.rank) for _label, r in rows} == {
        ("classic", 8), ("classic", 16), ("full", 8), ("full", 16)}
    assert bench.lora_rows(_args())[0][0] == "defaults"


@pytest.mark.parametrize(("passage", "expected"), [
    ("Spin the lysate at 18,000 x g for 30 minutes.", 1),
    ("Pellet at 12,000 x g, then spin at 18,000 x g.", 0),  # the earliest one in the passage
    ("Nothing about speeds here.", None),
])
def test_extractive_choice_is_the_choice_the_passage_holds(bench, passage, expected):
    assert bench.extractive_choice(passage, ["12,000 x g", "18,000 x g", "8,000 x g"]) == expected
