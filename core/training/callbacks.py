"""The one callback shape of every trainer: progress, live loss, micro-batches and cancel.

A :class:`TrainingHooks` is what a caller hands a trainer; a background
:class:`core.jobs.Job` plugs in with :meth:`TrainingHooks.for_job` (``job.progress``,
``job.step``, ``job.cancel``), the CLI with plain functions that print. :class:`HooksCallback`
turns a transformers ``Trainer``'s events into those calls, so knowledge fine-tuning, feedback
learning (TRL's trainers) and the emotion encoder report and cancel the same way. Left out:
what a trainer logs besides the step loss (each trainer keeps its own records).
:class:`TimeBudget` stops a run at its wall-clock budget.

When a cancel is seen: after every micro-batch (``on_substep_end`` and, for the last one of a
step, ``on_pre_optimizer_step``), after every optimiser step and after every logged loss. In
transformers 5.23 ``Trainer`` checks ``control.should_training_stop`` after each micro-batch
and breaks before the next one, so a run stops within one micro-batch; a step cut short is
never applied (its gradients are dropped with the trainer).

Example:
    >>> seen = []
    >>> hooks = TrainingHooks(step=lambda s, t, loss: seen.append((s, t, loss)))
    >>> hooks.report_step(1, 10, 2.5); seen
    [(1, 10, 2.5)]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from transformers import TrainerCallback

from core.training.trainer import all_reduce


@dataclass
class TrainingHooks:
    """Optional callbacks a trainer calls; all default to doing nothing."""

    progress: Callable[[float, str], None] | None = None  #: (fraction 0..1, message)
    step: Callable[[int, int, float], None] | None = None  #: (step, total steps, step loss)
    micro_batch: Callable[[int, int], None] | None = None  #: (micro-batches done, total)
    cancel: threading.Event | None = None  #: set it to stop within one micro-batch

    @classmethod
    def for_job(cls, job, **extra) -> TrainingHooks:
        """Hooks that report to a :class:`core.jobs.Job` and obey its cancel button."""
        return cls(progress=job.progress, step=job.step, cancel=job.cancel, **extra)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def say(self, fraction: float, message: str) -> None:
        if self.progress is not None:
            self.progress(fraction, message)

    def report_step(self, step: int, total: int, loss: float) -> None:
        """The step hook, else a progress line ``step s/t: loss x`` (e.g. the CLI's)."""
        if self.step is not None:
            self.step(step, total, loss)
        else:
            self.say(step / total if total else 0.0, f"step {step}/{total}: loss {loss:.4f}")


@dataclass
class HooksCallback(TrainerCallback):
    """A ``TrainerCallback`` that drives :class:`TrainingHooks` and records the step losses.

    ``digits`` rounds the recorded loss (None keeps it); ``total_micro_batches`` is passed to
    ``hooks.micro_batch``. ``losses`` holds ``(step, loss)``; ``seconds`` the time since
    training began (model placement and optimiser creation excluded).
    """

    hooks: TrainingHooks = field(default_factory=TrainingHooks)
    total_micro_batches: int = 0
    digits: int | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    micro_batches: int = 0
    started: float | None = None

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started if self.started is not None else 0.0

    def _stop_if_cancelled(self, control) -> None:
        if self.hooks.cancelled:
            control.should_training_stop = True

    def _micro(self, control) -> None:
        self.micro_batches += 1
        if self.hooks.micro_batch is not None:
            self.hooks.micro_batch(self.micro_batches, self.total_micro_batches)
        self._stop_if_cancelled(control)

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_substep_end(self, args, state, control, **kwargs):
        self._micro(control)

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self._micro(control)  # the step's last micro-batch; the step itself still completes

    def on_step_end(self, args, state, control, **kwargs):
        self._stop_if_cancelled(control)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            loss = float(logs["loss"])
            loss = round(loss, self.digits) if self.digits is not None else loss
            self.losses.append((state.global_step, loss))
            self.hooks.report_step(state.global_step, state.max_steps, loss)
        self._stop_if_cancelled(control)  # a cancel set by the step hook stops here


class TimeBudget(TrainerCallback):
    """Stops training at the first optimiser step that ends past ``seconds`` from the start of
    training (None: no budget), or past the ``time.perf_counter()`` value ``until``; with
    ``ahead`` it stops one step earlier, when the next step (as long as the last one) would end
    past the deadline, so the budget is never overrun by a step. Under a launcher the ranks
    agree (any rank late stops all, or the others would wait in the next all-reduce).
    ``stopped`` says whether it fired.

    Written here because the Trainer has no wall-clock limit (``max_steps`` counts steps).

    Example: ``TimeBudget(660.0)`` for a 10-minute budget with 10 % overrun;
    ``TimeBudget(until=end, ahead=True)`` to leave the time after ``end`` to later work.
    """

    def __init__(self, seconds: float | None = None, *, until: float | None = None,
                 ahead: bool = False) -> None:
        self.seconds, self.deadline, self.stopped = seconds, until, False
        self.ahead, self._last = ahead, None

    def on_train_begin(self, args, state, control, **kwargs):
        if self.seconds is not None:
            self.deadline = time.perf_counter() + self.seconds
        self._last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self.deadline is None:
            return
        now = time.perf_counter()
        step = now - self._last if self.ahead and self._last is not None else 0.0
        self._last = now
        late = float(now + step > self.deadline)
        if args.world_size > 1:
            late = all_reduce([late], "max")[0]
        if late:
            self.stopped = control.should_training_stop = True
