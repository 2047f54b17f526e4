"""Tables the page (and tests) show: components in GB and GiB, the precision comparison.

Plain rows of dicts, no Streamlit and no plotting; the page turns them into charts.

Example:
    >>> rows = component_rows({"weights": 2e9, "gradients": 0, "optimizer": 0,
    ...                        "activations": 0, "kv_cache": 0, "overhead": 0, "total": 2e9})
    >>> rows[0]["GB"], rows[0]["GiB"]
    (2.0, 1.863)
"""

from __future__ import annotations

from typing import Any

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
