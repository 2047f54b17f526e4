"""The feedback store: one SQLAlchemy implementation (SQLite file or any URL).

Every write runs in its own transaction and either commits or raises
:class:`FeedbackWriteError` (a :class:`UserError`, so pages show it and the CLI exits 2);
nothing is swallowed. SQLite gets WAL journaling (readers never block the writer),
``busy_timeout`` (concurrent writers queue instead of failing), ``synchronous=FULL`` (a
committed rating survives a crash or power loss) and ``BEGIN IMMEDIATE`` for writes (no
deferred-lock upgrade deadlocks), all set in connect/begin events following SQLAlchemy's
pysqlite transaction recipe. Other URLs (e.g. ``postgresql+psycopg://``) use the driver's
transactions. Statistics and exports live in their own modules.

Privacy: a record keeps the page's random session id and what was asked, answered and rated;
never an IP address, user agent or other request header (no column holds them, and
``tests/feedback/test_privacy.py`` checks the app never reads them). :meth:`purge_older_than`
deletes records older than ``NLPLAB_FEEDBACK_RETENTION_DAYS``; :func:`open_store` runs it each
time a process opens the store, ``python -m core feedback purge`` on demand.

Example:
    >>> store = SQLFeedbackStore("sqlite://")
    >>> oid = store.record_output(session_id="s1", page="compare", mode="rag",
    ...                           prompt="What is LoRA?", output="A low-rank adapter.")
    >>> store.set_rating(oid, "up").reward
    1
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from core.errors import UserError
from core.feedback.migrations import migrate
from core.feedback.schema import (
    CHOICES,
    RATINGS,
    SOURCES,
    OutputRecord,
    PreferenceRecord,
    outputs,
    preferences,
    utcnow,
)
from core.settings import Settings

BUSY_TIMEOUT_MS = 30_000
MAX_TEXT_CHARS = 200_000


class FeedbackWriteError(UserError):
    """A write did not commit (database locked, disk full, unreachable server...)."""


def make_engine(url: str, *, sqlite_synchronous: str = "FULL",
                busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, busy_timeout and real transactions."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(url, pool_pre_ping=True)
    memory = parsed.database in (None, "", ":memory:")
    if not memory:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False,
                                               "timeout": busy_timeout_ms / 1000}}
    if memory:
        kwargs["poolclass"] = sa.pool.StaticPool
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy pysqlite recipe)
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        write = conn.get_execution_options().get("nlplab_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _check_text(name: str, value: object, *, limit: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise UserError(f"{name} must be text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise UserError(f"{name} is empty")
    if len(value) > limit:
        raise UserError(f"{name} has {len(value):,} characters; the limit is {limit:,}")
    return value


def _check_rating(rating: str | None) -> str | None:
    if rating is not None and rating not in RATINGS:
        raise UserError(f"rating must be one of {RATINGS} or None, got {rating!r}")
    return rating


class SQLFeedbackStore:
    """The feedback store on any SQLAlchemy URL; migrates the database on open."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL",
                 busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        if sqlite_synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise UserError(f"sqlite_synchronous must be OFF|NORMAL|FULL|EXTRA, "
                            f"got {sqlite_synchronous!r}")
        self.url = url
        self.engine = make_engine(url, sqlite_synchronous=sqlite_synchronous,
                                  busy_timeout_ms=busy_timeout_ms)
        self._writer = self.engine.execution_options(nlplab_write=True)
        try:
            self.migrations_applied = migrate(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise self._error("could not open the feedback database", exc) from exc

    @property
    def describe(self) -> str:
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def _error(self, what: str, exc: Exception) -> FeedbackWriteError:
        orig = getattr(exc, "orig", None) or exc
        detail = (str(orig).splitlines() or [""])[0][:200]
        return FeedbackWriteError(f"{what} ({self.describe}): {type(orig).__name__}: {detail}")

    def _write(self, what: str, fn):
        try:
            with self._writer.begin() as conn:
                return fn(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise self._error(f"could not save {what}", exc) from exc

    def record_output(self, *, session_id: str, page: str, mode: str, prompt: str, output: str,
                      model_id: str | None = None, adapter_id: str | None = None,
                      retrieved_ids: list[str] | None = None, rating: str | None = None,
                      comment: str | None = None, latency_seconds: float | None = None,
                      extra: dict[str, Any] | None = None, source: str = "user") -> int:
        """Store one answer/prediction (optionally already rated); returns its id.

        ``source="simulated"`` marks a rating given by the feedback drill's rule, not a person.
        """
        if source not in SOURCES:
            raise UserError(f"source must be one of {SOURCES}, got {source!r}")
        values = {
            "session_id": _check_text("session_id", session_id, limit=64),
            "page": _check_text("page", page, limit=64),
            "mode": _check_text("mode", mode, limit=32),
            "prompt": _check_text("prompt", prompt, limit=MAX_TEXT_CHARS),
            "output": _check_text("output", output, limit=MAX_TEXT_CHARS, allow_empty=True),
            "model_id": model_id, "adapter_id": adapter_id,
            "rating": _check_rating(rating), "reward": OutputRecord.reward_for(rating),
            "comment": comment, "latency_seconds": latency_seconds, "extra": extra or {},
            "source": source,
            "retrieved_ids": [str(i) for i in retrieved_ids] if retrieved_ids is not None
            else None,
        }
        if latency_seconds is not None and not latency_seconds >= 0:
            raise UserError(f"latency_seconds must be >= 0, got {latency_seconds}")
        try:
            json.dumps(values["extra"])
        except (TypeError, ValueError) as exc:
            raise UserError(f"extra must be JSON-serialisable: {exc}") from None
        now = utcnow()
        values.update(created_at=now, updated_at=now)
        return self._write("the answer", lambda c: c.execute(
            outputs.insert().values(**values).returning(outputs.c.id)).scalar_one())

    def set_rating(self, output_id: int, rating: str | None,
                   comment: str | None = None) -> OutputRecord:
        """Set, change or clear (``None``) the rating of one output, in place.

        ``comment=None`` keeps the stored comment; ``""`` clears it.
        """
        _check_rating(rating)

        def work(conn: sa.Connection) -> None:
            values: dict[str, Any] = {"rating": rating, "updated_at": utcnow(),
                                      "reward": OutputRecord.reward_for(rating)}
            if comment is not None:
                values["comment"] = comment or None
            result = conn.execute(outputs.update().where(outputs.c.id == output_id)
                                  .values(**values))
            if result.rowcount != 1:
                raise UserError(f"no feedback record with id {output_id}")

        self._write("the rating", work)
        return self.get_output(output_id)

    def record_preference(self, a_id: int, b_id: int, choice: str, *, session_id: str = "-",
                          comment: str | None = None) -> int:
        """Store "A better" (``a``), "B better" (``b``) or ``tie`` between two outputs."""
        if choice not in CHOICES:
            raise UserError(f"choice must be one of {CHOICES}, got {choice!r}")
        if a_id == b_id:
            raise UserError("a preference needs two different answers")
        a = self.get_output(a_id)
        self.get_output(b_id)
        now = utcnow()
        values = {"created_at": now, "updated_at": now, "prompt": a.prompt,
                  "session_id": _check_text("session_id", session_id, limit=64),
                  "output_a_id": a_id, "output_b_id": b_id, "choice": choice, "comment": comment}
        return self._write("the preference", lambda c: c.execute(
            preferences.insert().values(**values).returning(preferences.c.id)).scalar_one())

    def update_preference(self, preference_id: int, choice: str,
                          comment: str | None = None) -> PreferenceRecord:
        if choice not in CHOICES:
            raise UserError(f"choice must be one of {CHOICES}, got {choice!r}")

        def work(conn: sa.Connection) -> None:
            result = conn.execute(preferences.update().where(preferences.c.id == preference_id)
                                  .values(choice=choice, comment=comment, updated_at=utcnow()))
            if result.rowcount != 1:
                raise UserError(f"no preference record with id {preference_id}")

        self._write("the preference", work)
        with self.engine.connect() as conn:
            row = conn.execute(preferences.select().where(preferences.c.id == preference_id))
            return PreferenceRecord.from_row(row.one())

    def get_output(self, output_id: int) -> OutputRecord:
        with self.engine.connect() as conn:
            row = conn.execute(outputs.select().where(outputs.c.id == output_id)).first()
        if row is None:
            raise UserError(f"no feedback record with id {output_id}")
        return OutputRecord.from_row(row)

    def list_outputs(self, *, mode: str | None = None, rated_only: bool = False,
                     prompt: str | None = None, since: datetime | None = None,
                     include_simulated: bool = False, source: str | None = None
                     ) -> list[OutputRecord]:
        """Outputs oldest first, optionally filtered; real users' only unless
        ``include_simulated`` (or ``source`` picks exactly one source)."""
        q = outputs.select().order_by(outputs.c.created_at, outputs.c.id)
        if source is not None:
            q = q.where(outputs.c.source == source)
        elif not include_simulated:
            q = q.where(outputs.c.source == "user")
        if mode is not None:
            q = q.where(outputs.c.mode == mode)
        if rated_only:
            q = q.where(outputs.c.rating.is_not(None))
        if prompt is not None:
            q = q.where(outputs.c.prompt == prompt)
        if since is not None:
            q = q.where(outputs.c.created_at >= since)
        with self.engine.connect() as conn:
            return [OutputRecord.from_row(r) for r in conn.execute(q)]

    def list_preferences(self, *, include_simulated: bool = False) -> list[PreferenceRecord]:
        """Preferences oldest first; those touching a simulated output only when asked."""
        q = preferences.select().order_by(preferences.c.created_at, preferences.c.id)
        if not include_simulated:
            simulated = sa.select(outputs.c.id).where(outputs.c.source != "user")
            q = q.where(preferences.c.output_a_id.not_in(simulated),
                        preferences.c.output_b_id.not_in(simulated))
        with self.engine.connect() as conn:
            return [PreferenceRecord.from_row(r) for r in conn.execute(q)]

    def count(self) -> dict[str, int]:
        """All rows; ``simulated`` says how many outputs the drill's rule rated."""
        with self.engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(outputs)).scalar_one()
            rated = conn.execute(sa.select(sa.func.count()).select_from(outputs)
                                 .where(outputs.c.rating.is_not(None))).scalar_one()
            prefs = conn.execute(sa.select(sa.func.count()).select_from(preferences)).scalar_one()
            sim = conn.execute(sa.select(sa.func.count()).select_from(outputs)
                               .where(outputs.c.source != "user")).scalar_one()
        return {"outputs": n, "rated": rated, "preferences": prefs, "simulated": sim}

    def purge_older_than(self, days: int, *, now: datetime | None = None) -> dict[str, object]:
        """Delete outputs and preferences created more than ``days`` days before ``now``.

        A preference that links a deleted output goes too (it cannot stand alone). Returns
        ``{"cutoff", "outputs", "preferences"}`` (ISO cutoff, rows deleted); one transaction.
        Example: days=30 on 2024-03-31 deletes what was created before 2024-03-01T00:00.
        """
        if not isinstance(days, int) or days < 1:
            raise UserError(f"retention days must be a whole number >= 1, got {days!r}")
        cutoff = (now or utcnow()) - timedelta(days=days)

        def work(conn: sa.Connection) -> dict[str, object]:
            old = sa.select(outputs.c.id).where(outputs.c.created_at < cutoff)
            n_prefs = conn.execute(preferences.delete().where(
                (preferences.c.created_at < cutoff) | preferences.c.output_a_id.in_(old)
                | preferences.c.output_b_id.in_(old))).rowcount
            n_outputs = conn.execute(outputs.delete().where(outputs.c.created_at < cutoff)).rowcount
            return {"cutoff": cutoff.isoformat(), "outputs": n_outputs, "preferences": n_prefs}

        return self._write("the purge", work)

    def close(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings) -> SQLFeedbackStore:
    """The store at ``settings.feedback_url`` (SQLite in the data directory by default), with
    records older than ``settings.feedback_retention_days`` (when set) already deleted."""
    settings.ensure_data_dir()
    store = SQLFeedbackStore(settings.feedback_url)
    if settings.feedback_retention_days:
        store.purge_older_than(settings.feedback_retention_days)
    return store
