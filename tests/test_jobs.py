"""core.jobs: one job per kind and scope, progress visible, results and errors kept."""

from __future__ import annotations

import inspect
import threading

import pytest

from core.errors import UserError
from core.jobs import KINDS as APP_KINDS
from core.jobs import JobKind, JobRegistry, resolve_body
from tests.job_bodies import kind as run_kind

KINDS = {"index": run_kind("session", "join"), "train": run_kind("session", "join"),
         "solo": run_kind("process", "refuse"), "x": run_kind("process", "refuse")}


def gated(gate: threading.Event, result=7):
    def work(job):
        job.progress(0.5, "half way")
        assert gate.wait(10)
        return result
    return work


def test_double_start_returns_the_running_job_and_runs_work_once():
    reg, gate, calls = JobRegistry(KINDS), threading.Event(), []

    def work(job):
        calls.append(1)
        gate.wait(10)
        return "built"

    first = reg.start("index", session="s1", work=work)
    second = reg.start("index", session="s1", work=work)
    assert second is first
    gate.set()
    assert first.wait(5)
    assert calls == [1] and first.snapshot()["result"] == "built"
    third = reg.start("index", session="s1", work=work)  # finished: a new start is a new job
    assert third is not first and third.wait(5) and calls == [1, 1]


def test_sessions_and_kinds_are_separate():
    reg, gate = JobRegistry(KINDS), threading.Event()
    a = reg.start("index", session="s1", work=gated(gate))
    b = reg.start("index", session="s2", work=gated(gate))
    c = reg.start("train", session="s1", work=gated(gate))
    assert len({a.id, b.id, c.id}) == 3
    gate.set()
    assert all(j.wait(5) for j in (a, b, c))


def test_progress_is_visible_while_running_and_result_kept_after():
    reg, gate = JobRegistry(KINDS), threading.Event()
    job = reg.start("index", session="s1", work=gated(gate, result={"chunks": 3}))
    for _ in range(200):
        if job.snapshot()["message"] == "half way":
            break
        threading.Event().wait(0.01)
    snap = job.snapshot()
    assert snap["running"] and snap["fraction"] == 0.5 and snap["message"] == "half way"
    gate.set()
    job.wait(5)
    again = reg.get("index", session="s1").snapshot()  # what a later run ("navigation") reads
    assert not again["running"] and again["result"] == {"chunks": 3} and again["error"] is None


@pytest.mark.parametrize("exc, shown", [
    (UserError("no usable documents"), "no usable documents"),
    (RuntimeError("disk full"), "RuntimeError: disk full"),
])
def test_errors_are_surfaced_not_raised(exc, shown):
    def work(job):
        raise exc

    job = JobRegistry(KINDS).start("index", work=work, session="s1")
    assert job.wait(5)
    assert job.snapshot()["error"] == shown and job.snapshot()["result"] is None


def test_process_scope_refuses_a_second_job_and_cancel_is_seen():
    reg, gate = JobRegistry(KINDS), threading.Event()

    def work(job):
        while not job.cancel.is_set():
            gate.wait(0.01)
        return "cancelled"

    job = reg.start("solo", work=work, session="s1")
    with pytest.raises(UserError, match="already running"):
        reg.start("solo", work=work, session="s2")  # process scope: refused for s2 too
    assert reg.get("solo") is job and reg.get("solo", session="s2") is job
    reg.clear("solo")  # a running job is not forgotten
    assert reg.get("solo") is job
    job.cancel.set()
    assert job.wait(5) and job.snapshot()["result"] == "cancelled"
    reg.clear("solo")
    assert reg.get("solo") is None


def test_step_records_losses_and_fraction():
    reg = JobRegistry(KINDS)

    def work(job):
        for s in (1, 2):
            job.step(s, 4, 1.0 / s)
        return None

    job = reg.start("train", work=work, session="s1")
    job.wait(5)
    snap = job.snapshot()
    assert snap["steps"] == [(1, 1.0), (2, 0.5)] and snap["fraction"] == 0.5
    assert snap["message"] == "step 2/4 · loss 0.5000"


def test_eta_is_measured_from_the_first_progress_not_from_start(monkeypatch):
    """Anchored at t=110 s with 0.1 done; at t=130 s 0.5 done: 0.4 took 20 s, 0.5 left -> 25 s.

    The 10 s before the first progress (t=100..110, model loading) must not count as work.
    """
    import core.jobs as jobs

    clock = {"t": 100.0}
    monkeypatch.setattr(jobs.time, "time", lambda: clock["t"])
    gate = threading.Event()
    job = jobs.Job("train", lambda j: gate.wait(10))
    assert job.eta_seconds() is None  # nothing measured yet
    clock["t"] = 110.0
    job.progress(0.1, "step 1")
    assert job.eta_seconds() is None  # one point is no rate
    clock["t"] = 130.0
    job.step(5, 10, 1.0)
    assert job.eta_seconds() == pytest.approx(25.0)
    assert job.snapshot()["eta"] == pytest.approx(25.0)


def test_eta_is_none_once_finished():
    job = JobRegistry(KINDS).start("x", work=lambda j: j.progress(0.5, "half") or 1)
    assert job.wait(5)
    assert job.snapshot()["eta"] is None


@pytest.mark.parametrize("kind, session, match", [
    ("nope", "s1", "unknown job kind"), ("index", None, "per session")])
def test_undeclared_kind_or_missing_session_is_refused(kind, session, match):
    with pytest.raises(ValueError, match=match):
        JobRegistry(KINDS).start(kind, work=lambda j: 1, session=session)


def test_the_app_declares_each_kind_with_its_behaviour():
    assert {k: (v.scope, v.when_busy, v.action) for k, v in APP_KINDS.items()} == {
        "finetune": ("process", "refuse", "train"),
        "evaluate": ("process", "refuse", "evaluate"),
        "kb-build": ("session", "join", "build"),
        "emo-train": ("session", "join", "train"),
        "fb-learn": ("session", "join", "train"),
        "fb-drill": ("session", "join", "train"),
        "fb-compare": ("session", "join", "evaluate"),
        "experiment": ("process", "refuse", "train")}
    with pytest.raises(ValueError, match="scope"):
        JobKind("server")


@pytest.mark.parametrize("kind", sorted(APP_KINDS))
def test_every_app_kind_names_a_body_taking_the_job_and_keyword_parameters(kind):
    """Each body resolves to a callable ``body(job, *, ...)``: the registry calls it with the
    job and the page's keyword parameters only."""
    body = resolve_body(APP_KINDS[kind].body)
    assert callable(body)
    first, *rest = inspect.signature(body).parameters.values()
    assert first.name == "job"
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in rest), body


@pytest.mark.parametrize("body", ["", "core.jobs", "core.jobs:", ":echo"])
def test_a_body_must_be_a_module_and_function_path(body):
    with pytest.raises(ValueError, match="body must be"):
        JobKind("session", "join", "train", body)


def test_params_reach_the_body_and_the_job_knows_its_actor():
    from core import access

    reg = JobRegistry({"demo": JobKind("session", "join", "build", "core.jobs:echo")})
    who = access.actor_for("full", session="s1", admin=False)
    job = reg.start("demo", session="s1", actor=who, value={"a": 1}, message="built")
    assert job.wait(5)
    snap = job.snapshot()
    assert snap["result"] == {"a": 1} and snap["message"] == "built" and job.actor is who


def test_an_unknown_body_fails_at_start_not_in_the_thread():
    reg = JobRegistry({"demo": JobKind("session", "join", "build", "core.jobs:no_such_body")})
    with pytest.raises(AttributeError):
        reg.start("demo", session="s1")
    assert reg.get("demo", session="s1") is None


def test_the_registry_imports_no_feature_package():
    """Bodies are dotted paths imported when a job starts, so core.jobs stays a low layer."""
    from tests.test_architecture import CORE, imported_modules

    core_imports = {m for m in imported_modules(CORE / "jobs.py") if m.startswith("core")}
    assert core_imports <= {"core.access", "core.errors"}, core_imports
