"""The bodies of the Feedback page's two training jobs (:data:`core.jobs.KINDS`): learning an
adapter from the ratings (``fb-learn``) and the simulated-feedback drill (``fb-drill``).

Thin on purpose: the work is :func:`core.finetune.preference.learn_from_feedback` and
:func:`core.finetune.preference_loop.run_drill` (looked up when the job runs, so tests can
replace them); here each gets the job's step hooks and, for the drill, the
actor the job was started for.
"""

from __future__ import annotations

from core.finetune import preference, preference_loop
from core.training.callbacks import TrainingHooks


def learn_job(job, *, store, generator, settings, config, base_adapter: str | None = None):
    """Train ``config.adapter`` on ``store``'s feedback (KTO or DPO); returns the LearnResult."""
    return preference.learn_from_feedback(store, generator, settings, config,
                                        base_adapter=base_adapter,
                                        hooks=TrainingHooks.for_job(job))


def drill_job(job, *, settings, config, generator, store=None, feedback=None):
    """Run the feedback drill (``config``: a DrillConfig); returns the DrillResult."""
    return preference_loop.run_drill(settings, config, generator=generator, store=store,
                           feedback=feedback, hooks=TrainingHooks.for_job(job),
                           actor=job.actor)
