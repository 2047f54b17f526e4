"""``bench/emotions.py --csv-set NAME=TRAIN,TEST``: a set with its own splits is read through
the app's CSV loader, train and test kept apart; a malformed spec, a missing file or a reused
name stops with a clear message.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "emotions.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_emotions", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_csv_set_keeps_its_own_train_and_test(bench, tmp_path):
    (tmp_path / "tr.csv").write_text("text,label\ni am so happy,joy\nthis is awful,anger\n",
                                     encoding="utf-8")
    (tmp_path / "te.csv").write_text("text,label\nsad day,sadness\n", encoding="utf-8")
    sets = bench.csv_sets([f"pub={tmp_path / 'tr.csv'},{tmp_path / 'te.csv'}"])
    train, test = sets["pub"]
    assert train.texts == ["i am so happy", "this is awful"]
    assert train.labels == ["joy", "anger"]
    assert (test.texts, test.labels) == (["sad day"], ["sadness"])


@pytest.mark.parametrize("spec", ["pub", "pub=only.csv", "=a.csv,b.csv", "pub=a,b,c"])
def test_malformed_csv_set_stops_with_the_expected_form(bench, spec):
    with pytest.raises(SystemExit, match=re.escape("NAME=TRAIN.csv,TEST.csv")):
        bench.csv_sets([spec])


def test_missing_file_and_reused_name_stop_with_a_message(bench, tmp_path):
    good = tmp_path / "ok.csv"
    good.write_text("text,label\nyay,joy\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="file not found"):
        bench.csv_sets([f"pub={good},{tmp_path / 'missing.csv'}"])
    with pytest.raises(SystemExit, match="used twice"):
        bench.csv_sets([f"pub={good},{good}", f"pub={good},{good}"])
