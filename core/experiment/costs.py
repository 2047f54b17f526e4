"""Cost beside accuracy: training time and speed, adapter size, serving memory, latency.

Everything here is measured by the experiment or computed by the app's own estimator:

- **training**: the fine-tuning run's wall minutes, training tokens/s, tokens, steps, epochs
  (from :func:`core.finetune.pipeline.run_finetune`'s summary or a reused adapter's metadata);
- **adapter**: the bytes of the adapter folder on disk;
- **serving memory** of each setup at fp16 / int8 / int4: the generator's weights and KV cache
  for one 2,048-token sequence (:func:`core.memory.estimate.estimate`, inference mode, no
  CUDA context: the number for a CPU or the increment on a GPU), plus the sentence embedder at
  the same precision for setups that retrieve, plus the adapter file for setups that use one;
  the no-model baseline holds the embedder only;
- **latency** per mode: p50 / p95 of each question's seconds (retrieval + its share of the
  batch's generation) and tokens per answer, from the evaluation rows.

Left out: the vector index's memory (a few MB for a small base) and any measurement of memory.

Example:
    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import UserError

SERVING_DTYPES = ("fp16", "int8", "int4")
SERVING_SEQ = 2048
MIB = 1024**2
#: What each mode holds in memory while it serves.
SETUP_PARTS = {"base": ("generator",), "extractive": ("embedder",),
               "rag": ("generator", "embedder"), "finetuned": ("generator", "adapter"),
               "finetuned+rag": ("generator", "embedder", "adapter")}


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default); None for no values."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def latency(rows: Sequence[dict], modes: Sequence[str]) -> dict[str, dict]:
    """Per mode: n, p50 / p95 seconds per question, mean tokens per answer, tokens/s."""
    out = {}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        seconds = [float(r["seconds"]) for r in mine]
        tokens = [int(r.get("tokens") or 0) for r in mine]
        p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
        out[mode] = {"n": len(mine),
                     "p50_seconds": None if p50 is None else round(p50, 3),
                     "p95_seconds": None if p95 is None else round(p95, 3),
                     "tokens_per_answer": round(sum(tokens) / len(tokens), 1) if tokens else None,
                     "tokens_per_second": round(sum(tokens) / sum(seconds), 1)
                     if sum(seconds) > 0 and sum(tokens) else None}
    return out


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def model_memory(spec: str, settings) -> dict[str, int] | str:
    """Estimated serving bytes of model ``spec`` at each of :data:`SERVING_DTYPES`, or the
    reason it could not be estimated."""
    from core.memory.config_input import describe_app_model
    from core.memory.estimate import EstimateConfig, estimate

    try:
        desc = describe_app_model(spec, settings)
        return {dtype: round(estimate(desc.config, EstimateConfig(
            dtype=dtype, mode="inference", batch=1, seq=SERVING_SEQ, context_bytes=0)).total)
            for dtype in SERVING_DTYPES}
    except (UserError, KeyError, ValueError, OSError) as exc:
        return f"not estimated: {exc}"


def serving_memory(parts: dict[str, dict[str, int] | str | int],
                   modes: Sequence[str]) -> dict[str, dict]:
    """Per mode: {dtype: MiB} summed over what the setup holds (:data:`SETUP_PARTS`), and the
    parts; ``parts`` maps generator / embedder to per-dtype bytes (or a reason string) and
    adapter to bytes."""
    out: dict[str, dict] = {}
    for mode in modes:
        held = SETUP_PARTS.get(mode, ())
        row: dict[str, object] = {"holds": list(held)}
        missing = [p for p in held if isinstance(parts.get(p), str) or p not in parts]
        for dtype in SERVING_DTYPES:
            if missing:
                row[dtype] = None
                continue
            total = 0
            for part in held:
                value = parts[part]
                total += value if isinstance(value, int) else value[dtype]
            row[dtype] = round(total / MIB, 1)
        if missing:
            row["reason"] = "; ".join(f"{p}: {parts.get(p, 'unknown')}" for p in missing)
        out[mode] = row
    return out


def training_cost(summary: dict | None) -> dict:
    """The fine-tuning numbers that matter for cost, from a run summary or adapter metadata."""
    if not summary:
        return {"minutes": None, "reason": "no adapter was trained"}
    seconds = summary.get("train_seconds") or summary.get("seconds") or 0
    return {"minutes": round(seconds / 60, 2),
            "tokens_per_second": summary.get("tokens_per_second"),
            "train_tokens": summary.get("train_tokens"), "steps": summary.get("steps"),
            "epochs": summary.get("epochs"), "examples": summary.get("examples"),
            "stopped": summary.get("stopped"), "reused": bool(summary.get("reused")),
            "losses": [round(float(x), 4) for x in summary.get("losses") or []]}


def experiment_costs(settings, rows: Sequence[dict], modes: Sequence[str], *,
                     training: dict | None, adapter_folder: Path | None) -> dict:
    """{"training", "adapter", "serving_memory_mib", "latency"} (see the module docstring)."""
    adapter_bytes = folder_bytes(adapter_folder) if adapter_folder is not None else None
    parts: dict[str, dict[str, int] | str | int] = {
        "generator": model_memory(settings.generator_model, settings),
        "embedder": model_memory(settings.embedding_model, settings)}
    if adapter_bytes is not None:
        parts["adapter"] = adapter_bytes
    return {"training": training_cost(training),
            "adapter": {"bytes": adapter_bytes,
                        "mib": None if adapter_bytes is None else round(adapter_bytes / MIB, 2)},
            "serving_memory_mib": serving_memory(parts, modes),
            "memory_basis": f"estimated (core.memory): weights + KV cache for one "
                            f"{SERVING_SEQ:,}-token sequence, no CUDA context",
            "latency": latency(rows, modes)}
