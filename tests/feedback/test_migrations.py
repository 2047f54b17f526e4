"""Named migrations: an empty database gets every table once; re-running is a no-op."""

import pytest
import sqlalchemy as sa

from core.feedback.migrations import MIGRATIONS, applied, migrate
from core.feedback.schema import metadata
from core.feedback.store import make_engine

NAMES = ["m001_create_outputs", "m002_create_preferences", "m003_indexes", "m004_output_source"]


def test_empty_database_gets_every_migration_once(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert migrate(engine) == NAMES
    assert migrate(engine) == []  # idempotent
    insp = sa.inspect(engine)
    assert set(insp.get_table_names()) == {"_migrations", "outputs", "preferences"}
    for table in metadata.tables.values():  # the migrated DB has the schema module's columns
        assert [c["name"] for c in insp.get_columns(table.name)] == list(table.columns.keys())
    assert {i["name"] for i in insp.get_indexes("outputs")} >= {"ix_outputs_created_at",
                                                                "ix_outputs_mode"}
    with engine.connect() as conn:
        assert applied(conn) == NAMES


def test_old_database_catches_up(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert migrate(engine, MIGRATIONS[:1]) == NAMES[:1]
    assert migrate(engine) == NAMES[1:]


def test_failed_migration_leaves_nothing_behind(tmp_path):
    """One transaction: the table created before the failure is rolled back, nothing recorded."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")

    def m_boom(conn):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        migrate(engine, [*MIGRATIONS[:1], ("m_boom", m_boom)])
    assert "outputs" not in sa.inspect(engine).get_table_names()
    assert migrate(engine) == NAMES


def test_duplicate_names_refused():
    with pytest.raises(ValueError, match="duplicate"):
        migrate(make_engine("sqlite://"), [MIGRATIONS[0], MIGRATIONS[0]])


def test_postgres_migrates_empty_database(pg_url):
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS preferences, outputs, _migrations CASCADE")
    assert migrate(engine) == NAMES
    assert migrate(engine) == []
    engine.dispose()
