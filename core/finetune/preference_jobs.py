"""The bodies of the Feedback page's two training jobs (:data:`core.jobs.KINDS`): learning an
adapter from the ratings (``fb-learn``) and the simulated-feedback drill (``fb-drill``).

Thin on purpose: the work is :func:`core.finetune.feedback.learn_from_feedback` and
:func:`core.finetune.drill.run_drill`, imported when the job runs (so tests can replace them
and this module stays light); here each gets the job's step hooks and, for the drill, the
actor the job was started for.
"""

from __future__ import annotations


def learn_job(job, *, store, generator, settings, config, base_adapter: str | None = None):
    """Train ``config.adapter`` on ``store``'s feedback (KTO or DPO); returns the LearnResult."""
    from core.finetune import feedback
    from core.training.callbacks import TrainingHooks

    return feedback.learn_from_feedback(store, generator, settings, config,
                                        base_adapter=base_adapter,
                                        hooks=TrainingHooks.for_job(job))


def drill_job(job, *, settings, config, generator, store=None, feedback=None):
    """Run the feedback drill (``config``: a DrillConfig); returns the DrillResult."""
    from core.finetune import drill
    from core.training.callbacks import TrainingHooks

    return drill.run_drill(settings, config, generator=generator, store=store,
                           feedback=feedback, hooks=TrainingHooks.for_job(job),
                           actor=job.actor)
