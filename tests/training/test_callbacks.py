"""The one callback shape: HooksCallback turns a real Trainer run's events into the hooks a
Job plugs into (progress, step losses, micro-batches) and stops on cancel."""

from __future__ import annotations

import threading

import torch

from core.jobs import Job
from core.training.callbacks import HooksCallback, TrainingHooks
from core.training.trainer import BatchTrainer, training_args


def _run(model, hooks, tmp_path, *, steps=3, accumulation=2):
    """``steps`` optimiser steps of ``accumulation`` 1-row micro-batches on a tiny Llama."""
    ids = torch.arange(1, 9).unsqueeze(0)
    parts = [{"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
             for _ in range(steps * accumulation)]
    callback = HooksCallback(hooks, len(parts))
    trainer = BatchTrainer(
        model=model, args=training_args(tmp_path, epochs=1, learning_rate=1e-3,
                                        accumulation=accumulation),
        epoch_batches=lambda epoch: [dict(p) for p in parts], batches_per_epoch=len(parts),
        loss=lambda m, batch: m(**batch).loss * 7, callbacks=[callback])  # 7 labels: summed
    trainer.train()
    return callback


def test_hooks_get_every_micro_batch_and_step_loss(fresh_llama, tmp_path):
    micro, steps = [], []
    callback = _run(fresh_llama(), TrainingHooks(step=lambda *a: steps.append(a),
                                                 micro_batch=lambda *a: micro.append(a)),
                    tmp_path)
    assert micro == [(i, 6) for i in range(1, 7)]
    assert [(s, t) for s, t, _ in steps] == [(1, 3), (2, 3), (3, 3)]
    assert [loss for *_, loss in steps] == [loss for _, loss in callback.losses]
    assert all(loss > 0 for *_, loss in steps) and callback.seconds > 0


def test_cancel_stops_before_the_next_micro_batch(fresh_llama, tmp_path):
    cancel, micro = threading.Event(), []

    def on_micro(done, total):
        micro.append(done)
        if done == 3:  # the first micro-batch of step 2
            cancel.set()

    callback = _run(fresh_llama(), TrainingHooks(micro_batch=on_micro, cancel=cancel),
                    tmp_path)
    assert micro == [1, 2, 3] and [s for s, _ in callback.losses] == [1]


def test_a_job_plugs_in_with_for_job(fresh_llama, tmp_path):
    """job.step draws the live loss; job.cancel stops the run after the step it was set in."""
    def work(job):
        def step(s, total, loss):
            job.step(s, total, loss)
            job.cancel.set()
        hooks = TrainingHooks.for_job(job)
        hooks.step = step
        return _run(fresh_llama(), hooks, tmp_path).losses

    job = Job("train", work)
    job._thread.start()
    assert job.wait(120) and job.error is None
    assert len(job.result) == 1 and job.snapshot()["steps"] == job.result
    assert job.snapshot()["total_steps"] == 3


def test_without_a_step_hook_progress_gets_a_line():
    lines = []
    TrainingHooks(progress=lambda f, m: lines.append((f, m))).report_step(2, 4, 0.5)
    assert lines == [(0.5, "step 2/4: loss 0.5000")]
