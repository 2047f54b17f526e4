"""The first-start adapter: the default knowledge base's adapter, trained in the background
when a server starts without one, so a newcomer's fine-tuned columns answer within minutes.

:func:`start` is called once per server process (:func:`core.st_cache.start_first_adapter`,
``NLPLAB_FIRST_ADAPTER=1``, the default). When no adapter named :data:`NAME` exists and no
training job runs, it starts the ordinary ``finetune`` job (:data:`core.jobs.KINDS`: one per
server, so the Fine-tune page's job panel shows it, with Cancel) on the default knowledge base
(built first when missing) with the default recipe and a budget of
``NLPLAB_FIRST_ADAPTER_MINUTES`` (5). Pages ask :func:`current` whether the server's training
job is this one, to say so. With a model server (``NLPLAB_GENERATOR_URL``) nothing starts: the
adapter would be trained here but answered there.

Example:
    >>> reason_not_needed(Settings(first_adapter=0))
    'NLPLAB_FIRST_ADAPTER=0'
"""

from __future__ import annotations

from core import access, jobs
from core.adapters import AdapterRegistry
from core.finetune.config import LoraSettings
from core.rag.config import DEFAULT_KB
from core.settings import Settings

#: The name the Fine-tune page suggests for the default base and the knowledge recipe.
NAME = f"{DEFAULT_KB}-knowledge"
_started: dict[str, str] = {}  # "job": the id of the job this process started


def reason_not_needed(settings: Settings) -> str | None:
    """Why no first-start adapter is trained (None: it is needed)."""
    if not settings.first_adapter:
        return "NLPLAB_FIRST_ADAPTER=0"
    if settings.generator_url:
        return "the generator is a model server"
    if AdapterRegistry.of(settings).exists(NAME):
        return f"adapter {NAME!r} exists"
    return None


def job_params(settings: Settings) -> dict:
    """The ``finetune`` job's parameters for the first-start adapter."""
    return {"settings": settings, "kb": DEFAULT_KB, "name": NAME,
            "lora": LoraSettings(minutes=settings.first_adapter_minutes),
            "build_default_kb": True}


def start(settings: Settings, registry: jobs.JobRegistry | None = None) -> jobs.Job | None:
    """Start the first-start training when it is needed and no training job runs; returns the
    job, or None when nothing was started."""
    registry = registry or jobs.REGISTRY
    if reason_not_needed(settings) is not None or registry.running("finetune"):
        return None
    operator = access.Actor("admin", mode=settings.mode, session="first-start")
    job = registry.start("finetune", actor=operator, **job_params(settings))
    _started["job"] = job.id
    return job


def current(registry: jobs.JobRegistry | None = None) -> jobs.Job | None:
    """The server's ``finetune`` job when it is the first-start one (running or finished)."""
    job = (registry or jobs.REGISTRY).get("finetune")
    return job if job is not None and job.id == _started.get("job") else None
