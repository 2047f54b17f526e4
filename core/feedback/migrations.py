"""Schema changes as a list of named migrations, each applied once and recorded in the database.

Modelled on simonw/llm ``migrations.py``: every function in :data:`MIGRATIONS` gets a name; the
``_migrations`` table remembers which names ran (and when), so a new version of the app adds a
function at the end and old databases catch up on the next start. All pending migrations run in
ONE transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL transactional DDL plus an advisory lock),
so two processes starting at once cannot apply the same migration twice, and a failure leaves
the database as it was. Each migration declares its own DDL (frozen), never the current schema
in :mod:`core.feedback.schema`, so replaying history always produces the same tables.
It does not downgrade.

Example:
    >>> from core.feedback.store import make_engine
    >>> engine = make_engine("sqlite://")
    >>> migrate(engine)
    ['m001_create_outputs', 'm002_create_preferences', 'm003_indexes', 'm004_output_source']
    >>> migrate(engine)
    []
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

MIGRATIONS_TABLE = "_migrations"
#: Arbitrary constant key for pg_advisory_xact_lock (serialises concurrent migrators).
PG_LOCK_KEY = 6_040_617

Migration = Callable[[sa.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` under its function name, in definition order."""
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_create_outputs(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "outputs", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("page", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(300)),
        sa.Column("adapter_id", sa.String(300)),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("retrieved_ids", sa.JSON),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("rating", sa.String(4)),
        sa.Column("reward", sa.Integer),
        sa.Column("comment", sa.Text),
        sa.Column("latency_seconds", sa.Float),
        sa.Column("extra", sa.JSON),
        sa.CheckConstraint("rating IS NULL OR rating IN ('up', 'down')", name="ck_outputs_rating"),
        sa.CheckConstraint("reward IS NULL OR reward IN (-1, 1)", name="ck_outputs_reward"),
    ).create(conn)


@migration
def m002_create_preferences(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table("outputs", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "preferences", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("output_a_id", sa.Integer, sa.ForeignKey("outputs.id"), nullable=False),
        sa.Column("output_b_id", sa.Integer, sa.ForeignKey("outputs.id"), nullable=False),
        sa.Column("choice", sa.String(3), nullable=False),
        sa.Column("comment", sa.Text),
        sa.CheckConstraint("choice IN ('a', 'b', 'tie')", name="ck_preferences_choice"),
    ).create(conn)


@migration
def m003_indexes(conn: sa.Connection) -> None:
    """The dashboard filters by time and mode and drills down by prompt."""
    for sql in ("CREATE INDEX ix_outputs_created_at ON outputs (created_at)",
                "CREATE INDEX ix_outputs_mode ON outputs (mode)",
                "CREATE INDEX ix_outputs_session ON outputs (session_id)",
                "CREATE INDEX ix_preferences_a ON preferences (output_a_id)",
                "CREATE INDEX ix_preferences_b ON preferences (output_b_id)"):
        conn.exec_driver_sql(sql)


@migration
def m004_output_source(conn: sa.Connection) -> None:
    """Who gave the rating: ``user`` (every older row) or ``simulated`` (the feedback drill's
    rule standing in for users), so statistics and exports can keep them apart."""
    conn.exec_driver_sql("ALTER TABLE outputs ADD COLUMN source VARCHAR(16) NOT NULL "
                         "DEFAULT 'user'")
    conn.exec_driver_sql("CREATE INDEX ix_outputs_source ON outputs (source)")


_registry = sa.Table(
    MIGRATIONS_TABLE, sa.MetaData(),
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ordinal", sa.Integer, nullable=False),
)


def applied(conn: sa.Connection) -> list[str]:
    """Names of the migrations this database has recorded, in application order."""
    if not sa.inspect(conn).has_table(MIGRATIONS_TABLE):
        return []
    rows = conn.execute(sa.select(_registry.c.name).order_by(_registry.c.ordinal))
    return [r.name for r in rows]


def migrate(engine: sa.Engine, migrations: list[tuple[str, Migration]] | None = None) -> list[str]:
    """Apply every pending migration in one transaction; return the names applied now."""
    migrations = MIGRATIONS if migrations is None else migrations
    names = [n for n, _ in migrations]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate migration names in {names}")
    with engine.execution_options(nlplab_write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
        _registry.create(conn, checkfirst=True)
        done = set(applied(conn))
        ran: list[str] = []
        for name, fn in migrations:
            if name in done:
                continue
            fn(conn)
            conn.execute(_registry.insert().values(
                name=name, applied_at=datetime.now(UTC), ordinal=len(done) + len(ran)))
            ran.append(name)
    return ran
