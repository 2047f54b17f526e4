"""Privacy of the feedback store: a session id, never an IP address or user agent; records
older than NLPLAB_FEEDBACK_RETENTION_DAYS are deleted (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.errors import UserError
from core.feedback.schema import outputs, preferences
from core.feedback.store import open_store
from tests.feedback.conftest import seed

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)


def test_no_column_holds_an_ip_address_or_user_agent():
    columns = {c.name for t in (outputs, preferences) for c in t.columns}
    assert "session_id" in columns
    assert not {c for c in columns if re.search(r"ip|addr|agent|header|host|cookie|email", c)}


def test_the_app_never_reads_request_headers_or_addresses():
    """Streamlit exposes ``st.context.ip_address`` and ``.headers``; nothing in the app reads
    them, so no page can pass them to the store (the sign-in reads only ``st.user.email``)."""
    sources = [*REPO.glob("core/**/*.py"), *REPO.glob("app_pages/*.py"), REPO / "app.py"]
    for path in sources:
        text = path.read_text()
        for needle in ("st.context", "ip_address", "remote_ip", "user_agent", "User-Agent",
                       "X-Forwarded-For"):
            assert needle not in text, f"{path.relative_to(REPO)} mentions {needle}"


def _age(store, days_old: dict[int, float], table=outputs) -> None:
    with store.engine.begin() as conn:
        for rid, days in days_old.items():
            conn.execute(table.update().where(table.c.id == rid).values(
                created_at=NOW - timedelta(days=days)))


def _purge_case(store) -> None:
    """q1_rag 40 days old, q1_base 31, q1_ft exactly 30 (kept: not OLDER), the rest 1 day.
    Preference p1 links q1_rag and q1_base: it goes with them although it is new; p2 stays."""
    ids = seed(store)
    _age(store, {i: 1 for i in ids.values() if isinstance(i, int)})
    _age(store, {ids["q1_rag"]: 40, ids["q1_base"]: 31, ids["q1_ft"]: 30})
    _age(store, {ids["p1"]: 1, ids["p2"]: 1}, preferences)
    out = store.purge_older_than(30, now=NOW)
    assert out == {"cutoff": (NOW - timedelta(days=30)).isoformat(), "outputs": 2,
                   "preferences": 1}
    left = {r.id for r in store.list_outputs()}
    assert ids["q1_rag"] not in left and ids["q1_base"] not in left
    assert ids["q1_ft"] in left and len(left) == 5
    assert [p.id for p in store.list_preferences()] == [ids["p2"]]
    assert store.purge_older_than(30, now=NOW)["outputs"] == 0  # idempotent


def test_purge_on_sqlite(store):
    _purge_case(store)


def test_purge_on_postgresql(pg_store):
    _purge_case(pg_store)


@pytest.mark.parametrize("days", [0, -3, 1.5, "30"])
def test_purge_needs_a_whole_number_of_days(store, days):
    with pytest.raises(UserError, match="retention days"):
        store.purge_older_than(days)


def test_retention_setting_purges_when_the_store_opens(app_settings, monkeypatch):
    import dataclasses

    s = open_store(app_settings)
    old = s.record_output(session_id="s", page="compare", mode="rag", prompt="old", output="a")
    new = s.record_output(session_id="s", page="compare", mode="rag", prompt="new", output="b")
    with s.engine.begin() as conn:
        conn.execute(outputs.update().where(outputs.c.id == old).values(
            created_at=datetime.now(UTC) - timedelta(days=8)))
    s.close()
    s = open_store(app_settings)  # retention 0 (default): keeps everything
    assert len(s.list_outputs()) == 2
    s.close()
    s = open_store(dataclasses.replace(app_settings, feedback_retention_days=7))
    assert [r.id for r in s.list_outputs()] == [new]
    s.close()


def test_purge_command(app_settings, monkeypatch, capsys):
    from core.cli import main

    s = open_store(app_settings)
    rid = s.record_output(session_id="s", page="compare", mode="rag", prompt="q", output="a")
    with s.engine.begin() as conn:
        conn.execute(outputs.update().where(outputs.c.id == rid).values(
            created_at=datetime.now(UTC) - timedelta(days=3)))
    s.close()
    assert main(["feedback", "purge"]) == 2  # no --days and no retention setting
    assert "NLPLAB_FEEDBACK_RETENTION_DAYS" in capsys.readouterr().err
    monkeypatch.setenv("NLPLAB_FEEDBACK_RETENTION_DAYS", "5")
    assert main(["feedback", "purge"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"] == 0
    assert main(["feedback", "purge", "--days", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"] == 1
    engine = sa.create_engine(app_settings.feedback_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outputs)).scalar_one() == 0
    engine.dispose()
