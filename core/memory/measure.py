"""Estimate vs measured memory for a model the app can load (inference, LoRA/full step).

The measurement runs in a fresh Python process (:mod:`core.memory.measure_worker`) so the
numbers belong to that workload alone. What is compared, and with which estimate:

- ``tensors``: estimated weights + gradients + optimizer + KV cache vs the bytes of the live
  tensors of those kinds (exact accounting; should agree to a fraction of a percent);
- ``activations`` (training): estimated activations vs the bytes autograd saved for backward;
- ``total``: the estimate's total vs the peak RSS delta on CPU (model + workload, whatever
  the allocator and libraries hold) or ``torch.cuda.max_memory_allocated`` on CUDA. The
  estimate is taken with ``context_bytes=0`` (neither measurement sees a CUDA context) and,
  for int8 on CPU, with the un-quantized parameters at fp32, as ``quantize_dynamic`` leaves
  them.

INT4 needs bitsandbytes on CUDA: elsewhere it is estimated only and the result says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.errors import UserError
from core.memory.arch import arch_from_config
from core.memory.estimate import EstimateConfig, estimate, lora_targets
from core.memory.params import count_params
from core.settings import REPO_ROOT

Progress = Callable[[float, str], None] | None
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout", "attn_pdrop",
                          "dropout_rate")


def measurable(dtype: str, mode: str, device: str) -> str | None:
    """None if this combination can be measured on ``device``, else the reason it cannot."""
    if device != "cuda" and (dtype == "int4" or mode == "qlora"):
        return "INT4/QLoRA needs bitsandbytes on a CUDA GPU: estimated only on this machine"
    if device != "cuda" and dtype == "int8" and mode != "inference":
        return ("training on CPU int8 weights is not supported (dynamic-quantized Linear "
                "layers have no autograd path): int8 is measured for inference only")
    if mode == "full" and dtype in ("fp16", "bf16"):
        return ("full fine-tuning is measured at fp32 only: the worker would train purely in "
                f"{dtype}, not the mixed-precision recipe (fp32 master weights) estimated")
    if device == "cuda" and (dtype in ("int4", "int8") or mode == "qlora"):
        import importlib.util

        if importlib.util.find_spec("bitsandbytes") is None:
            return f"{dtype} on CUDA needs the bitsandbytes package, which is not installed"
    return None


def resolve_location(location: str, models_dir: Path) -> str:
    """A loadable folder for a builtin spec or path (converts SmolLM2's GGUF once)."""
    if location.startswith("builtin:"):
        from core.model_sources import resolve

        return resolve(location, models_dir).location
    return location


def error_pct(estimated: float, measured: float) -> float | None:
    """Signed error of the estimate in percent of the measurement."""
    return None if not measured else round(100 * (estimated - measured) / measured, 1)


def measure(cfg: dict[str, Any], location: str, ec: EstimateConfig, device: str = "cpu",
            models_dir: Path | None = None, progress: Progress = None,
            timeout: float = 900) -> dict[str, Any]:
    """Run the workload in a subprocess and compare it with the matching estimate."""
    reason = measurable(ec.dtype, ec.mode, device)
    a = arch_from_config(cfg)
    pc = count_params(cfg)
    # CPU SDPA has no fused kernel for attention dropout: a model trained with dropout > 0
    # runs the math path, which stores the a*s*s scores (Korthikanti's 5as/h term).
    dropout = max(float(cfg.get(k) or 0) for k in ATTENTION_DROPOUT_KEYS)
    flash = ec.flash_attention and not (device != "cuda" and ec.mode != "inference"
                                        and dropout > 0)
    est_cfg = replace(ec, flash_attention=flash, score_bytes=4 if not flash else 0,
                      context_bytes=0,  # neither RSS delta nor max_memory_allocated has it
                      unquantized_dtype="fp32" if device != "cuda" and ec.dtype == "int8"
                      else ec.unquantized_dtype)
    est = estimate(cfg, est_cfg, pc)
    if reason:
        return {"measured": None, "reason": reason, "estimate": est.to_dict()}
    if progress:
        progress(0.05, "preparing the model folder")
    folder = resolve_location(location, models_dir or Path("."))
    req = {"location": folder, "kind": a.kind,
           "dtype": "int4" if ec.mode == "qlora" else ec.dtype, "mode": ec.mode,
           "device": device, "batch": ec.batch, "seq": ec.seq, "lora_r": ec.lora_r,
           "lora_alpha": ec.lora_alpha,
           "lora_targets": sorted(lora_targets(a, pc, ec.lora_targets))}
    if progress:
        progress(0.15, f"measuring {ec.mode} at {ec.dtype} in a fresh process")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TOKENIZERS_PARALLELISM": "false",
           "TRANSFORMERS_VERBOSITY": "error"}
    try:
        proc = subprocess.run([sys.executable, "-m", "core.memory.measure_worker",
                               json.dumps(req)], capture_output=True, text=True,
                              timeout=timeout, env=env, cwd=str(REPO_ROOT), check=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"measurement took longer than {timeout:g} s: try a smaller "
                        "batch or sequence") from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise UserError(f"measurement failed: {tail}")
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    if progress:
        progress(1.0, "done")
    return {"measured": measured, "estimate": est.to_dict(),
            "comparison": compare(est.bytes, measured, device,
                                  est.details.get("activations_stored", 0.0))}


def compare(est: dict[str, float], m: dict[str, Any], device: str,
            stored_activations: float = 0.0) -> list[dict[str, Any]]:
    """Rows of (what, estimated, measured, error %) with the measurement method named."""
    tb = m["tensor_bytes"]
    rows = [("tensors: weights+grads+optimizer+KV",
             est["weights"] + est["gradients"] + est["optimizer"] + est["kv_cache"],
             tb["weights"] + tb["gradients"] + tb["optimizer"] + tb["kv_cache"],
             "sum of live tensor storages")]
    if tb["activations_saved"]:
        rows.append(("activations saved for backward", stored_activations,
                     tb["activations_saved"], "torch saved_tensors_hooks"))
    if device == "cuda":
        rows.append(("total", est["total"], m["cuda_peak_allocated"],
                     "torch.cuda.max_memory_allocated (excl. CUDA context)"))
    else:
        rows.append(("total", est["total"], m["peak_rss_delta"],
                     "process peak RSS (VmHWM) minus RSS before loading"))
    return [{"what": w, "estimated": round(e), "measured": int(v), "error_pct": error_pct(e, v),
             "method": how} for w, e, v, how in rows]
