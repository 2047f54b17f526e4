"""What the GPU memory page shows and asks: the components in GB and GiB, the precision
comparison, formulas and measurements as rows, labels for the app's models, LoRA targets from
the form, and a measurement keyed by what was measured.

Plain rows of dicts, no Streamlit and no plotting; the page turns them into charts. The
estimate itself is :mod:`core.memory.estimate`, the measurement
:func:`core.memory.measure.measure` (looked up when called, so tests can replace it). Nothing
here loads a model.

Example:
    >>> rows = component_rows({"weights": 2e9, "gradients": 0, "optimizer": 0,
    ...                        "activations": 0, "kv_cache": 0, "overhead": 0, "total": 2e9})
    >>> rows[0]["GB"], rows[0]["GiB"]
    (2.0, 1.863)
    >>> parse_targets(" q, v ,,")
    ('q', 'v')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core import access
from core.memory import config_input
from core.memory.config_input import ModelDescription
from core.memory.estimate import COMPONENTS, GIB, EstimateConfig, estimate, with_changes
from core.memory.params import ParamCount

#: Which training mode each precision stands for in the comparison chart.
TRAINING_MODE = {"fp32": "full", "fp16": "full", "bf16": "full", "int8": "lora",
                 "int4": "qlora"}


def component_rows(b: dict[str, float]) -> list[dict[str, Any]]:
    """One row per component plus the SUM, in bytes, GB (10^9) and GiB (2^30)."""
    return [{"component": c, "bytes": round(b[c]), "GB": round(b[c] / 1e9, 3),
             "GiB": round(b[c] / GIB, 3)} for c in (*COMPONENTS, "total")]


def precision_comparison(cfg: dict[str, Any], ec: EstimateConfig,
                         pc: ParamCount | None = None,
                         dtypes: tuple[str, ...] = ("fp32", "fp16", "int8", "int4"),
                         ) -> list[dict[str, Any]]:
    """Inference and training totals per precision, other settings unchanged.

    Training at fp32/fp16 is full fine-tuning (mixed precision for fp16), at int8 LoRA on an
    8-bit base, at int4 QLoRA: full fine-tuning of quantized weights is not possible.
    """
    rows = []
    for dtype in dtypes:
        for task, mode in (("inference", "inference"), ("training", TRAINING_MODE[dtype])):
            e = estimate(cfg, with_changes(ec, dtype=dtype, mode=mode), pc)
            rows.append({"precision": dtype, "task": task, "mode": mode,
                         "GiB": round(e.total / GIB, 3), "bytes": round(e.total)})
    return rows


def formula_rows(formulas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """(component, GiB, formula, source) per formula of an estimate, GiB rounded to 3 places."""
    return [{"component": f["component"], "GiB": round(f["bytes"] / GIB, 3),
             "formula": f["formula"], "source": f["source"]} for f in formulas]


def headline(pc: ParamCount, params_trainable: int) -> list[tuple[str, str]]:
    """(label, value) of the parameter metrics: total, then active per token (mixture of
    experts) or trainable. Example: 135 M parameters -> ('Parameters', '135,000,000') below
    1e8 is shown with commas, above it in billions ('0.135 B')."""
    total = f"{pc.total / 1e9:.3f} B" if pc.total > 1e8 else f"{pc.total:,}"
    if pc.active != pc.total:
        return [("Parameters", total), ("Active per token", f"{pc.active / 1e9:.2f} B")]
    return [("Parameters", total), ("Trainable", f"{params_trainable:,}")]


def measurement_rows(comparison: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Estimated vs measured in MiB (1 decimal), with the error and how it was measured."""
    return [{"what": c["what"], "estimated_MiB": round(c["estimated"] / 2**20, 1),
             "measured_MiB": round(c["measured"] / 2**20, 1), "error_pct": c["error_pct"],
             "method": c["method"]} for c in comparison]


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
