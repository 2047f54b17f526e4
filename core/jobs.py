"""Background jobs for long page work (indexing, training, evaluation) that survive reruns.

One :class:`JobRegistry` holds every job of the process. Each job kind is declared once in
:data:`KINDS` with its body, its scope and what a second start does while one runs:

| kind | body | scope | a second start while one runs |
|---|---|---|---|
| ``finetune`` | ``core.finetune.training_job:finetune_job`` | ``process`` | refused |
| ``evaluate`` | ``core.evaluation.runner:evaluation_job`` | ``process`` | refused |
| ``kb-build`` | ``core.rag.builds:build_job`` | ``session`` | joins it |
| ``emo-train`` | ``core.emotions.benchmark:training_job`` | ``session`` | joins it |
| ``fb-learn`` | ``core.finetune.preference_jobs:learn_job`` | ``session`` | joins it |
| ``fb-drill`` | ``core.finetune.preference_jobs:drill_job`` | ``session`` | joins it |
| ``fb-compare`` | ``core.evaluation.versions:versions_job`` | ``session`` | joins it |
| ``experiment`` | ``core.experiment.run:experiment_job`` | ``process`` | refused |

``process``: one job per server, shared by every session; ``session``: one per browser session.
"Refused" is a UserError naming the running kind.

A body is named by a dotted path (``"package.module:function"``) and imported when a job of its
kind starts, so this module imports no feature package. Every body has one signature,
``body(job, **params)``: :meth:`JobRegistry.start` passes the keyword parameters it was given,
and ``job.actor`` is the actor the start was checked for (bodies pass it on to engine calls
that check access again).

Every kind names the :data:`core.access.ACTIONS` entry it performs: in demo mode only an admin
actor may start it, and a ``train`` job is refused while another one runs anywhere on the server
(one training job per server, :class:`core.access.QuotaExceeded`).

"Joins" returns the RUNNING job instead of starting another, so a double click, or a click
after navigating away and back, cannot start the work twice. The finished job stays readable
until the next start, so its result survives navigation. Work runs in a daemon thread, reports
through :meth:`Job.progress` / :meth:`Job.step` and checks ``job.cancel``; pages show it with
``app_pages/_job_panel.py``. No Streamlit here. Jobs live in this process only: a server restart
forgets them (the work they wrote stays on disk).

Example (``core.jobs:echo`` is a body that reports and returns its ``value``):
    >>> reg = JobRegistry({"demo": JobKind("session", "join", "build", "core.jobs:echo")})
    >>> job = reg.start("demo", session="s1", value=42)
    >>> job.wait(5) and reg.get("demo", session="s1").snapshot()["result"]
    42
    >>> reg.get("demo", session="s2") is None  # session scope: s2 sees nothing
    True
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from core import access
from core.errors import UserError


def format_seconds(seconds: float) -> str:
    """A duration for people. Example: 59 -> '59 s', 61 -> '1 min 1 s', 3725 -> '1 h 2 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class Job:
    """One piece of background work with progress, step losses, cancellation and a result."""

    def __init__(self, kind: str, work: Callable[[Job], object],
                 actor: access.Actor | None = None) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.kind = kind
        self.actor = actor  #: who started it (checked by the registry); bodies pass it on
        self.cancel = threading.Event()
        self._work = work
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.fraction, self.message = 0.0, "starting"
        self.steps: list[tuple[int, float]] = []
        self.total_steps = 0
        self.result: object = None
        self.error: str | None = None
        self.started = time.time()
        self.finished: float | None = None
        self._anchor: tuple[float, float] | None = None  # (time, fraction) of first progress
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"job-{kind}")

    def _run(self) -> None:
        try:
            self.result = self._work(self)
        except UserError as exc:
            self.error = str(exc)
        except Exception as exc:  # shown on the page; the thread must not die silently
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.finished = time.time()
            self._done.set()

    def progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self.fraction, self.message = max(0.0, min(1.0, fraction)), message
            self._mark()

    def _mark(self) -> None:
        """Anchor the ETA at the first measured progress (model loading is not work done)."""
        if self._anchor is None and self.fraction > 0:
            self._anchor = (time.time(), self.fraction)

    def eta_seconds(self) -> float | None:
        """Seconds left at the rate measured since the first progress report; None if unknown.

        Example: anchored at (t=10 s, 0.1), now t=30 s at 0.5 -> 0.4 done in 20 s, 0.5 left
        -> 25 s.
        """
        if self._anchor is None or not self.running:
            return None
        t0, f0 = self._anchor
        done = self.fraction - f0
        if done <= 0:
            return None
        return (time.time() - t0) * (1.0 - self.fraction) / done

    def step(self, step: int, total: int, loss: float) -> None:
        with self._lock:
            self.steps.append((step, loss))
            self.total_steps = total
            self.fraction = step / total if total else self.fraction
            self.message = f"step {step}/{total} · loss {loss:.4f}"
            self._mark()

    @property
    def running(self) -> bool:
        return not self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def snapshot(self) -> dict:
        """A consistent copy of the state for rendering."""
        with self._lock:
            return {"id": self.id, "kind": self.kind, "running": self.running,
                    "fraction": self.fraction, "message": self.message,
                    "steps": list(self.steps), "total_steps": self.total_steps,
                    "result": self.result, "error": self.error,
                    "cancelling": self.cancel.is_set() and self.running,
                    "elapsed": (self.finished or time.time()) - self.started,
                    "eta": self.eta_seconds()}


@dataclass(frozen=True)
class JobKind:
    """What a job of one kind runs, how it is keyed and what a second start does while it runs.

    ``scope``: "process" (one job per server, shared by every session) or "session" (one per
    browser session). ``when_busy``: "join" (return the running job) or "refuse" (UserError).
    ``action``: the :data:`core.access.ACTIONS` entry it performs (demo mode: admin only).
    ``body``: ``"package.module:function"``, called as ``function(job, **params)`` (see
    :func:`resolve_body`). Example: ``JobKind("session", "join", "build",
    "core.rag.builds:build_job")``.
    """

    scope: str = "session"
    when_busy: str = "join"
    action: str = "train"
    body: str = ""

    def __post_init__(self) -> None:
        if self.scope not in ("process", "session"):
            raise ValueError(f"scope must be 'process' or 'session', got {self.scope!r}")
        if self.when_busy not in ("join", "refuse"):
            raise ValueError(f"when_busy must be 'join' or 'refuse', got {self.when_busy!r}")
        if self.action not in access.ACTIONS:
            raise ValueError(f"action must be one of {sorted(access.ACTIONS)}, "
                             f"got {self.action!r}")
        module, _, name = self.body.partition(":")
        if not module or not name:
            raise ValueError(f"body must be 'package.module:function', got {self.body!r}")


def resolve_body(path: str) -> Callable[..., object]:
    """The function a body path names, imported now. Example: "core.jobs:echo" -> echo."""
    module, _, name = path.partition(":")
    body = getattr(importlib.import_module(module), name)
    if not callable(body):
        raise TypeError(f"job body {path!r} is not callable")
    return body


def echo(job: Job, *, value: object = None, message: str = "done") -> object:
    """A body for examples and tests: report ``message`` at 100 % and return ``value``."""
    job.progress(1.0, message)
    return value


#: Every background job the app runs, in one place (see the module docstring's table).
KINDS: dict[str, JobKind] = {
    "finetune": JobKind("process", "refuse", "train", "core.finetune.training_job:finetune_job"),
    "evaluate": JobKind("process", "refuse", "evaluate", "core.evaluation.runner:evaluation_job"),
    "kb-build": JobKind("session", "join", "build", "core.rag.builds:build_job"),
    "emo-train": JobKind("session", "join", "train", "core.emotions.benchmark:training_job"),
    "fb-learn": JobKind("session", "join", "train", "core.finetune.preference_jobs:learn_job"),
    "fb-drill": JobKind("session", "join", "train", "core.finetune.preference_jobs:drill_job"),
    "fb-compare": JobKind("session", "join", "evaluate", "core.evaluation.versions:versions_job"),
    "experiment": JobKind("process", "refuse", "train", "core.experiment.run:experiment_job"),
}


class JobRegistry:
    """The process's jobs, one slot per kind (process scope) or per (session, kind).

    ``kinds`` defaults to :data:`KINDS`; an undeclared kind is a ValueError (declare it there).
    ``session`` is required for session-scoped kinds and ignored for process-scoped ones.
    """

    def __init__(self, kinds: dict[str, JobKind] | None = None) -> None:
        self.kinds = dict(KINDS if kinds is None else kinds)
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, str], Job] = {}

    def _key(self, kind: str, session: str | None) -> tuple[str, str]:
        spec = self.kinds.get(kind)
        if spec is None:
            raise ValueError(f"unknown job kind {kind!r}; declare it in core.jobs.KINDS")
        if spec.scope == "process":
            return ("", kind)
        if not session:
            raise ValueError(f"job kind {kind!r} is per session: pass session=")
        return (session, kind)

    def start(self, kind: str, *, session: str | None = None,
              actor: access.Actor | None = None, **params) -> Job:
        """Start the kind's body with ``params``; if one is running, join it or refuse (per kind).

        ``actor`` (None: :func:`core.access.process_actor`) must be allowed the kind's action;
        in demo mode a second ``train`` job anywhere on the server is refused. The body is
        imported (:func:`resolve_body`) once the start is allowed, before anything runs.
        """
        key = self._key(kind, session)
        spec = self.kinds[kind]
        who = access.require(actor, spec.action)
        body = resolve_body(spec.body)
        with self._lock:
            running = self._jobs.get(key)
            if running is not None and running.running:
                if spec.when_busy == "join":
                    return running
                raise UserError(f"a {kind} job is already running: wait for it or cancel it")
            if who.limited and spec.action == "train":
                busy = next((j.kind for j in self._jobs.values() if j.running
                             and self.kinds[j.kind].action == "train"), None)
                if busy is not None:
                    raise access.QuotaExceeded(
                        f"This demo runs one training job at a time and a {busy} job is "
                        "running: try again when it has finished.")
            job = self._jobs[key] = Job(kind, lambda job: body(job, **params), actor=who)
            job._thread.start()
            return job

    def get(self, kind: str, *, session: str | None = None) -> Job | None:
        """The running or last finished ``kind`` job of this scope, None if there was none."""
        key = self._key(kind, session)
        with self._lock:
            return self._jobs.get(key)

    def running(self, kind: str, *, session: str | None = None) -> bool:
        job = self.get(kind, session=session)
        return job is not None and job.running

    def clear(self, kind: str, *, session: str | None = None) -> None:
        """Forget a FINISHED job (its result was taken); a running one is left alone."""
        key = self._key(kind, session)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.running:
                del self._jobs[key]


#: The process-wide registry the pages use (Streamlit re-runs scripts, not module imports).
REGISTRY = JobRegistry()
