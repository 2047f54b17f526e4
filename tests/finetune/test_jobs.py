"""Background jobs: one fine-tuning or evaluation run per process; steps and errors kept."""

from __future__ import annotations

import threading

import pytest

from core.errors import UserError
from tests.job_bodies import registry


def test_second_start_is_refused_while_running_and_cancel_works():
    reg, release = registry(), threading.Event()

    def work(job):
        job.step(1, 2, 3.5)
        release.wait(10)
        return "cancelled" if job.cancel.is_set() else "done"

    job = reg.start("finetune", work=work)
    with pytest.raises(UserError, match="already running"):
        reg.start("finetune", work=work)
    job.cancel.set()
    release.set()
    assert job.wait(10)
    snap = job.snapshot()
    assert snap["result"] == "cancelled" and snap["steps"] == [(1, 3.5)]
    assert snap["fraction"] == 0.5 and not snap["running"]
    assert reg.start("finetune", work=lambda j: 1).wait(10)  # free again


@pytest.mark.parametrize(("error", "expected"), [
    (UserError("bad name"), "bad name"), (RuntimeError("boom"), "RuntimeError: boom")])
def test_errors_are_kept_for_the_page(error, expected):
    def work(job):
        raise error

    job = registry().start("evaluate", work=work)
    job.wait(10)
    assert job.snapshot()["error"] == expected
