"""Background jobs for long page work (indexing, training, learning) that survive reruns.

A :class:`JobSlot` holds at most one running :class:`Job` (fine-tuning and evaluation keep
one slot per server process); the process-wide :class:`JobRegistry` keys slots by
``(session id, kind)`` (indexing, classifier training, learning from feedback): a second start
while a job of that kind runs in that session returns the RUNNING job instead of starting
another (a double click, or a click after navigating away and back, cannot start the work
twice), and the finished job stays
readable until the next start, so its result survives navigation. Work runs in a daemon thread,
reports through :meth:`Job.progress` / :meth:`Job.step` and checks ``job.cancel``. Pages poll
:meth:`Job.snapshot` from an ``st.fragment(run_every=...)``. No Streamlit here. Jobs live in
this process only: a server restart forgets them (the work they wrote stays on disk).

Example:
    >>> reg = JobRegistry()
    >>> job = reg.start("s1", "index", lambda job: job.progress(1.0, "done") or 42)
    >>> job.wait(5) and reg.get("s1", "index").snapshot()["result"]
    42
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from core.errors import UserError


class Job:
    """One piece of background work with progress, step losses, cancellation and a result."""

    def __init__(self, kind: str, work: Callable[[Job], object]) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.kind = kind
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


class JobSlot:
    """At most one running job; the last job stays readable after it ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.job: Job | None = None

    def start(self, kind: str, work: Callable[[Job], object]) -> Job:
        """Start ``work``; UserError if a job is already running in this slot."""
        with self._lock:
            if self.job is not None and self.job.running:
                raise UserError(f"a {self.job.kind} job is already running: wait for it or "
                                "cancel it")
            return self._start(kind, work)

    def start_or_get(self, kind: str, work: Callable[[Job], object]) -> Job:
        """Start ``work``, or return the job already running in this slot (double click)."""
        with self._lock:
            if self.job is not None and self.job.running:
                return self.job
            return self._start(kind, work)

    def _start(self, kind: str, work: Callable[[Job], object]) -> Job:
        self.job = Job(kind, work)
        self.job._thread.start()
        return self.job

    def clear(self) -> None:
        with self._lock:
            if self.job is not None and not self.job.running:
                self.job = None


class JobRegistry:
    """One :class:`JobSlot` per ``(session, kind)``, shared by every script run of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[tuple[str, str], JobSlot] = {}

    def slot(self, session: str, kind: str) -> JobSlot:
        with self._lock:
            return self._slots.setdefault((session, kind), JobSlot())

    def start(self, session: str, kind: str, work: Callable[[Job], object]) -> Job:
        """The running job of this session and kind, else a new one running ``work``."""
        return self.slot(session, kind).start_or_get(kind, work)

    def get(self, session: str, kind: str) -> Job | None:
        return self.slot(session, kind).job

    def clear(self, session: str, kind: str) -> None:
        self.slot(session, kind).clear()


#: The process-wide registry the pages use (Streamlit re-runs scripts, not module imports).
REGISTRY = JobRegistry()
