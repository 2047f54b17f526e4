"""The GPU memory page's steps that are not widgets: labels for the app's models, the
estimate settings from the form, and a measurement keyed by what was measured.

Plain Python (no Streamlit); the estimate itself is :mod:`core.memory.estimate`, the
measurement :func:`core.memory.measure.measure` (looked up when called, so tests can replace
it). Nothing here loads a model.

Example:
    >>> parse_targets(" q, v ,,")
    ('q', 'v')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import access
from core.memory import config_input
from core.memory.config_input import ModelDescription
from core.memory.estimate import EstimateConfig


def parse_targets(text: str) -> tuple[str, ...]:
    """LoRA targets from a comma list; empty items dropped."""
    return tuple(t.strip() for t in text.split(",") if t.strip())


def app_model_labels(settings) -> dict[str, str]:
    """{label: spec} of the app's models. Example label:
    'builtin:smollm2-135m-instruct (generator, loaded)'."""
    return {f"{r['spec']} ({', '.join(r['roles'])}{', loaded' if r['loaded'] else ''})":
            r["spec"] for r in config_input.app_models(settings)}


def measurement(desc: ModelDescription, ec: EstimateConfig, settings,
                progress: Callable[[float, str], None] | None = None, *,
                actor: access.Actor | None = None) -> dict[str, Any]:
    """Measure ``desc`` under ``ec`` on the configured device (CUDA if picked, else CPU);
    ``actor`` must be allowed ``measure`` (None: the process's actor, see core.access).

    The result of :func:`core.memory.measure.measure` plus ``key``: (model, dtype, mode,
    batch, seq), so the page can say which settings the numbers belong to.
    """
    from core.devices import pick_device
    from core.memory import measure

    access.require(actor, "measure")
    device = "cuda" if pick_device(settings.device).device == "cuda" else "cpu"
    return {"key": (desc.name, ec.dtype, ec.mode, ec.batch, ec.seq),
            **measure.measure(desc.config, desc.location, ec, device, settings.models_dir,
                              progress=progress)}
