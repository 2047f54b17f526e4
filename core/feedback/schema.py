"""The feedback tables as SQLAlchemy Core objects, plus the records read back from them.

``outputs`` holds every rated (or ratable) answer and prediction; ``preferences`` links two
outputs that answered the same question with the user's choice. The tables are created and
changed only by :mod:`core.feedback.migrations`; this module describes their final shape for
queries. It does not open connections.

Example:
    >>> [OutputRecord.reward_for(r) for r in ("up", "down", None)]
    [1, -1, None]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

RATINGS = ("up", "down")
#: Who rated: real people, or the feedback drill's stated rule standing in for them.
SOURCES = ("user", "simulated")
CHOICES = ("a", "b", "tie")
metadata = sa.MetaData()

outputs = sa.Table(
    "outputs", metadata,
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
    sa.Column("source", sa.String(16), nullable=False, server_default="user"),
)

preferences = sa.Table(
    "preferences", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("output_a_id", sa.Integer, sa.ForeignKey("outputs.id"), nullable=False),
    sa.Column("output_b_id", sa.Integer, sa.ForeignKey("outputs.id"), nullable=False),
    sa.Column("choice", sa.String(3), nullable=False),
    sa.Column("comment", sa.Text),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite gives naive datetimes back, PostgreSQL aware ones: make both aware UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class OutputRecord:
    """One generated answer or prediction and its rating (``reward`` = +1 up, -1 down)."""

    id: int
    created_at: datetime
    updated_at: datetime
    session_id: str
    page: str
    mode: str
    prompt: str
    output: str
    model_id: str | None = None
    adapter_id: str | None = None
    retrieved_ids: list[str] | None = None
    rating: str | None = None
    reward: int | None = None
    comment: str | None = None
    latency_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = "user"

    @staticmethod
    def reward_for(rating: str | None) -> int | None:
        return None if rating is None else (1 if rating == "up" else -1)

    @classmethod
    def from_row(cls, row: sa.Row) -> OutputRecord:
        m = dict(row._mapping)
        m["created_at"], m["updated_at"] = as_utc(m["created_at"]), as_utc(m["updated_at"])
        m["extra"] = m.get("extra") or {}
        return cls(**m)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"], d["updated_at"] = self.created_at.isoformat(), self.updated_at.isoformat()
        return d


@dataclass(frozen=True)
class PreferenceRecord:
    """"A is better" / "B is better" / "tie" between two outputs for the same prompt."""

    id: int
    created_at: datetime
    updated_at: datetime
    session_id: str
    prompt: str
    output_a_id: int
    output_b_id: int
    choice: str
    comment: str | None = None

    @classmethod
    def from_row(cls, row: sa.Row) -> PreferenceRecord:
        m = dict(row._mapping)
        m["created_at"], m["updated_at"] = as_utc(m["created_at"]), as_utc(m["updated_at"])
        return cls(**m)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"], d["updated_at"] = self.created_at.isoformat(), self.updated_at.isoformat()
        return d
