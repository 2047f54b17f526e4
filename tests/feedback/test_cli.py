"""`python -m core feedback ...`: the JSON contract of stats, export and learn."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from core.feedback.store import open_store
from core.settings import load_settings
from tests.feedback.conftest import seed


@pytest.fixture
def seeded_env(app_settings):
    store = open_store(app_settings)
    seed(store)
    yield store
    store.close()


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_stats_prints_counts_and_up_rates(seeded_env, capsys):
    code, out, _ = _run(capsys, "feedback", "stats")
    assert code == 0
    assert (out["outputs"], out["rated"], out["up"], out["down"]) == (7, 6, 4, 2)
    rag = next(m for m in out["modes"] if m["mode"] == "rag")
    assert (rag["n"], rag["up"], rag["up_rate"]) == (2, 2, 1.0)
    assert 0 < rag["wilson_low"] < 1 == rag["wilson_high"]


@pytest.mark.parametrize(("fmt", "rows"), [("csv", 7), ("jsonl", 7), ("kto", 6), ("dpo", 2)])
def test_export_writes_the_file(seeded_env, capsys, tmp_path, fmt, rows):
    out_file = tmp_path / f"out.{fmt}"
    code, out, _ = _run(capsys, "feedback", "export", "--format", fmt, "--out", str(out_file))
    assert code == 0 and out == {"format": fmt, "path": str(out_file), "rows": rows}
    assert out_file.stat().st_size > 0


def test_learn_refuses_with_exit_2_when_too_little(seeded_env, capsys):
    code, out, err = _run(capsys, "feedback", "learn", "--adapter", "v1")
    assert code == 2 and out is None
    assert "too little feedback" in err and "2 more ratings" in err


def test_learn_prints_the_contract_keys(seeded_env, capsys, monkeypatch, folder_generator):
    store = seeded_env
    for i in range(2):  # 8 ratings now: KTO's default minimum
        store.record_output(session_id="s", page="compare", mode="base", prompt=f"extra {i}",
                            output=f"answer {i}", rating="down")
    monkeypatch.setattr("core.loaders.load_generator", lambda settings: folder_generator)
    code, out, err = _run(capsys, "feedback", "learn", "--adapter", "cli-v1", "--max-steps", "1")
    assert code == 0, err
    assert list(out) == ["adapter", "records", "train_loss", "seconds"]
    assert (out["adapter"], out["records"]) == ("cli-v1", 8)
    assert (load_settings().data_dir / "adapters" / "cli-v1" / "adapter_config.json").is_file()
    assert "step 1/1" in err  # progress goes to stderr, stdout stays JSON
