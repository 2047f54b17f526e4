"""The body of the ``finetune`` background job (:data:`core.jobs.KINDS`): train an adapter on a
knowledge base and save it (or hold a cancelled run), reporting every optimiser step and
micro-batch to the job. The training itself is :func:`core.finetune.pipeline.run_finetune`
(looked up when the job runs, so tests can replace it); the page's settings become these
parameters in :meth:`core.presenters.finetune.FinetuneForm.job_params`.

Example:
    >>> micro_message(3, 8, (2, 1.5), 10)
    'step 2/10 · micro-batch 3/8 · loss 1.5000'
"""

from __future__ import annotations

from core.finetune import pipeline
from core.finetune.config import LoraSettings
from core.training.callbacks import TrainingHooks


def micro_message(done: int, total: int, last_step: tuple[int, float] | None,
                  total_steps: int) -> str:
    """The progress line after a micro-batch; ``last_step`` is (step, loss) or None."""
    step, loss = last_step or (0, float("nan"))
    return f"step {step}/{total_steps or '?'} · micro-batch {done}/{total} · loss {loss:.4f}"


def finetune_job(job, *, settings, kb: str, name: str, lora: LoraSettings,
                 paraphrase_method: str = "templates", overwrite: bool = False,
                 documents: set[str] | None = None, build_default_kb: bool = False) -> dict:
    """Train ``name`` on ``kb`` (only ``documents`` when given); returns ``run_finetune``'s
    summary. ``build_default_kb``: build the default knowledge base first when it is missing
    (the first-start adapter, :mod:`core.finetune.first_adapter`)."""
    if build_default_kb:
        from core.answering import open_store  # loads the embedder
        from core.rag.defaults import ensure_default_kb

        job.progress(0.0, "building the default knowledge base")
        ensure_default_kb(open_store(settings),
                          progress=lambda f, m: job.progress(0.0, f"knowledge base: {m}"))
    def micro(done: int, total: int) -> None:
        last = job.steps[-1] if job.steps else None
        job.progress(done / total, micro_message(done, total, last, job.total_steps))

    return pipeline.run_finetune(settings, kb, name, lora, paraphrase_method=paraphrase_method,
                                 overwrite=overwrite, documents=documents,
                                 hooks=TrainingHooks.for_job(job, micro_batch=micro))
