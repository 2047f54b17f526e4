"""The store: every field round-trips, ratings change in place, bad input and failed writes are
loud, concurrent writers lose nothing (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import UserError
from core.feedback.store import FeedbackWriteError, SQLFeedbackStore

FIELDS = dict(session_id="sess-1", page="compare", mode="finetuned+rag", model_id="smol-135m",
              adapter_id="lora-v2", prompt="Qu'est-ce que LoRA? 🤔\nline 2",
              output="Des adaptateurs de rang faible.", retrieved_ids=["a.pdf#0", "b.md#12"],
              rating="down", comment="too short", latency_seconds=2.25,
              extra={"tokens": 7, "nested": {"k": [1, 2]}})


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, tmp_path):
    if request.param == "sqlite":
        s = SQLFeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
        yield s
        s.close()
    else:
        yield request.getfixturevalue("pg_store")


def test_every_field_round_trips(any_store):
    before = datetime.now(UTC)
    oid = any_store.record_output(**FIELDS)
    r = any_store.get_output(oid)
    for name, value in FIELDS.items():
        assert getattr(r, name) == value, name
    assert r.reward == -1
    assert r.created_at.tzinfo is not None
    assert before - timedelta(seconds=5) <= r.created_at <= datetime.now(UTC)
    assert r.updated_at == r.created_at


def test_rating_change_updates_in_place(any_store):
    oid = any_store.record_output(**{**FIELDS, "rating": None, "comment": None})
    assert any_store.get_output(oid).reward is None
    first = any_store.set_rating(oid, "down", comment="wrong")
    second = any_store.set_rating(oid, "up")
    assert (first.rating, first.reward, first.comment) == ("down", -1, "wrong")
    assert (second.rating, second.reward, second.comment) == ("up", 1, "wrong")  # None keeps it
    assert any_store.set_rating(oid, "up", comment="").comment is None            # "" clears it
    assert any_store.set_rating(oid, None).reward is None
    assert any_store.count()["outputs"] == 1
    assert second.updated_at >= first.updated_at >= second.created_at


def test_preference_links_two_outputs_and_updates(any_store):
    a = any_store.record_output(**FIELDS)
    b = any_store.record_output(**{**FIELDS, "mode": "base"})
    pid = any_store.record_preference(a, b, "b", session_id="s9", comment="B cites sources")
    (p,) = any_store.list_preferences()
    assert (p.id, p.output_a_id, p.output_b_id, p.choice, p.prompt, p.comment) == (
        pid, a, b, "b", FIELDS["prompt"], "B cites sources")
    assert any_store.update_preference(pid, "tie").choice == "tie"
    assert len(any_store.list_preferences()) == 1


@pytest.mark.parametrize(("call", "message"), [
    (lambda s, i: s.set_rating(i, "meh"), "rating must be"),
    (lambda s, i: s.set_rating(10_000, "up"), "no feedback record with id 10000"),
    (lambda s, i: s.record_output(**{**FIELDS, "mode": " "}), "mode is empty"),
    (lambda s, i: s.record_output(**{**FIELDS, "page": "p" * 65}), "page has 65"),
    (lambda s, i: s.record_output(**{**FIELDS, "latency_seconds": -1.0}), "latency_seconds"),
    (lambda s, i: s.record_output(**{**FIELDS, "extra": {"x": object()}}), "JSON-serialisable"),
    (lambda s, i: s.record_preference(i, i, "a"), "two different answers"),
    (lambda s, i: s.record_preference(i, i + 1, "A"), "choice must be"),
    (lambda s, i: s.record_preference(i, 10_000, "a"), "no feedback record"),
])
def test_bad_input_is_refused_clearly(store, call, message):
    oid = store.record_output(**FIELDS)
    with pytest.raises(UserError, match=message):
        call(store, oid)
    assert store.count()["outputs"] == 1


def test_locked_database_write_fails_loudly(tmp_path):
    """Another process holds the write lock past our busy timeout: the write raises, naming it."""
    path = tmp_path / "f.db"
    store = SQLFeedbackStore(f"sqlite:///{path}", busy_timeout_ms=200)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(FeedbackWriteError, match=r"could not save the answer.*locked"):
            store.record_output(**FIELDS)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.record_output(**FIELDS) == 1  # nothing half-written; next write works


def test_broken_table_write_fails_loudly(store):
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE preferences")
        conn.exec_driver_sql("DROP TABLE outputs")
    with pytest.raises(FeedbackWriteError, match="no such table: outputs"):
        store.record_output(**FIELDS)


def _hammer(store, threads: int, per_thread: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(per_thread):
                store.record_output(session_id=f"t{t}", page="bench", mode="rag",
                                    prompt=f"t{t} q{i}", output=f"answer {t}-{i}",
                                    rating="up" if i % 2 else "down")
        except BaseException as exc:  # collected and asserted on by the caller
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return errors


def test_eight_concurrent_writers_lose_nothing(store):
    """8 threads x 250 writes: all 2,000 present, each thread's sequence complete, ids unique."""
    assert _hammer(store, 8, 250) == []
    rows = store.list_outputs()
    assert len(rows) == 2000 == len({r.id for r in rows})
    for t in range(8):
        assert sorted(int(r.prompt.split("q")[1]) for r in rows
                      if r.session_id == f"t{t}") == list(range(250))


def test_postgres_concurrent_writers_lose_nothing(pg_store):
    assert _hammer(pg_store, 8, 250) == []
    assert pg_store.count()["outputs"] == 2000


def test_default_store_is_sqlite_in_the_data_dir_with_wal(app_settings):
    from core.feedback.store import open_store

    store = open_store(app_settings)
    assert store.url == f"sqlite:///{app_settings.data_dir / 'feedback.sqlite3'}"
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()
