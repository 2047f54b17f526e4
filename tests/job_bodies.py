"""A job body for tests: run a test's own function under a declared kind's scope and checks.

Example:
    >>> job = registry().start("evaluate", work=lambda job: 7)
    >>> job.wait(5) and job.snapshot()["result"]
    7
"""

from __future__ import annotations

from dataclasses import replace

from core.jobs import KINDS, JobKind, JobRegistry

RUN = "tests.job_bodies:run"


def run(job, *, work):
    """The body: ``work(job)``."""
    return work(job)


def kind(scope: str = "session", when_busy: str = "join", action: str = "train") -> JobKind:
    """A kind whose body is :func:`run`."""
    return JobKind(scope, when_busy, action, RUN)


def registry(kinds: dict[str, JobKind] | None = None) -> JobRegistry:
    """A registry of ``kinds`` (default: the app's :data:`core.jobs.KINDS`, same scopes and
    actions) whose bodies are all :func:`run`."""
    chosen = KINDS if kinds is None else kinds
    return JobRegistry({name: replace(spec, body=RUN) for name, spec in chosen.items()})
