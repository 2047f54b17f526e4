"""Simulated ratings (the feedback drill's) stay out of real users' numbers unless asked."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from core.cli import main
from core.errors import UserError
from core.feedback.migrations import MIGRATIONS, migrate
from core.feedback.store import SQLFeedbackStore, make_engine, open_store
from tests.feedback.conftest import seed


def _simulate(store) -> list[int]:
    """Two simulated answers to one prompt (up, down) and a preference between them."""
    a = store.record_output(session_id="drill", page="drill", mode="rag", prompt="Q?",
                            output="right", rating="up", source="simulated")
    b = store.record_output(session_id="drill", page="drill", mode="base", prompt="Q?",
                            output="wrong", rating="down", source="simulated")
    store.record_preference(a, b, "a")
    return [a, b]


def test_simulated_rows_are_kept_apart(store):
    real = {v for k, v in seed(store).items() if not k.startswith("p")}  # outputs, not prefs
    sim = _simulate(store)
    assert {r.id for r in store.list_outputs()} == real
    assert {r.source for r in store.list_outputs()} == {"user"}
    both = store.list_outputs(include_simulated=True)
    assert {r.id for r in both} == real | set(sim)
    assert [r.id for r in store.list_outputs(source="simulated")] == sim
    assert len(store.list_preferences()) == 2  # the seed's two, not the simulated one
    assert len(store.list_preferences(include_simulated=True)) == 3
    assert store.count()["simulated"] == 2


def test_unknown_source_refused(store):
    with pytest.raises(UserError, match="source must be one of"):
        store.record_output(session_id="s", page="p", mode="rag", prompt="q", output="a",
                            source="robot")


def test_old_database_rows_become_user_rows(tmp_path):
    """A database from before the source column: its rows read back as source 'user'."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    migrate(engine, MIGRATIONS[:3])
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO outputs (created_at, updated_at, session_id, page, mode, prompt, "
            "output, rating, reward) VALUES ('2024-01-01 00:00:00', '2024-01-01 00:00:00', "
            "'s', 'compare', 'rag', 'q', 'a', 'up', 1)")
    engine.dispose()
    store = SQLFeedbackStore(url)
    assert store.migrations_applied == ["m004_output_source"]
    [row] = store.list_outputs()
    assert row.source == "user"
    cols = [c["name"] for c in sa.inspect(store.engine).get_columns("outputs")]
    assert cols[-1] == "source"
    store.close()


def _run(capsys, *argv):
    code = main(list(argv))
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def test_cli_stats_and_export_leave_simulated_out_unless_asked(app_settings, capsys, tmp_path):
    store = open_store(app_settings)
    seed(store)
    _simulate(store)
    store.close()
    assert _run(capsys, "feedback", "stats")[1]["outputs"] == 7
    assert _run(capsys, "feedback", "stats", "--include-simulated")[1]["outputs"] == 9
    out = tmp_path / "kto.jsonl"
    assert _run(capsys, "feedback", "export", "--format", "kto", "--out", str(out))[1]["rows"] == 6
    assert "wrong" not in out.read_text()
    assert _run(capsys, "feedback", "export", "--format", "kto", "--out", str(out),
                "--include-simulated")[1]["rows"] == 8
