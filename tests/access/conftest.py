"""Fixtures for the access tests: a demo-mode or full-mode process, actors, a fake clock."""

from __future__ import annotations

import pytest

from core import access


@pytest.fixture
def mode(monkeypatch):
    """Set ``NLPLAB_MODE`` for this test; the process is not the CLI (no operator override)."""
    monkeypatch.setattr(access, "_process_actor", None)

    def set_mode(value: str) -> None:
        monkeypatch.setenv("NLPLAB_MODE", value)
    set_mode("full")
    return set_mode


VISITOR = access.Actor("visitor", mode="demo", session="visitor-1")
ADMIN = access.Actor("admin", mode="demo", session="admin-1")


class Clock:
    """A hand-driven monotonic clock: ``clock.t += 5`` moves time on five seconds."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()
