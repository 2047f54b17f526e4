"""Estimate vs measured memory for the app's local models, every precision/mode measurable here.

Each row runs the workload in a fresh process (see core/memory/measure_worker.py) and compares
the estimator's numbers with two measurements taken in that same run:

- tensors: weights + gradients + optimizer states + KV cache, summed over live tensor storages
  (exact accounting; checks the per-parameter byte formulas);
- total: the estimate's total (no CUDA context on CPU) vs the process's peak RSS while the
  workload runs minus its RSS before the model was loaded (VmHWM, reset after loading).

Target: |error| <= 10 % on the total for inference and for a LoRA step. INT4 needs
bitsandbytes on CUDA: printed as "estimated only" on a CPU machine.

    .venv/bin/python bench/memory.py            # SmolLM2 + MiniLM, main precisions (~4 min)
    .venv/bin/python bench/memory.py --full     # also fp16 inference and bf16/fp16 LoRA
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from core.errors import UserError
from core.memory.config_input import describe
from core.memory.estimate import EstimateConfig
from core.memory.measure import measure
from core.settings import load_settings

MODELS = {"SmolLM2-135M": "builtin:smollm2-135m-instruct", "MiniLM-L6": "builtin:all-minilm-l6-v2"}
DEFAULT = [("fp32", "inference"), ("bf16", "inference"), ("int8", "inference"),
           ("int4", "inference"), ("fp32", "lora")]
FULL = [("fp16", "inference"), ("bf16", "lora"), ("fp16", "lora"), ("fp32", "full"),
        ("int4", "qlora")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="all precisions and modes")
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    settings = load_settings()
    cases = DEFAULT + (FULL if args.full else [])
    mib = 2**20
    print(f"batch {args.batch}, seq {args.seq}, LoRA r=8 on q,v, CPU; MiB = 2^20 bytes")
    header = ("| model | dtype | mode | est. tensors | meas. tensors | err % | est. total | "
              "peak RSS delta | err % | note |")
    print(header)
    print("|" + "---|" * 10)
    errors = []
    for label, spec in MODELS.items():
        desc = describe(spec, settings.models_dir)
        for dtype, mode in cases:
            ec = EstimateConfig(dtype=dtype, mode=mode, batch=args.batch, seq=args.seq,
                                lora_r=8, lora_alpha=16, lora_targets=("q", "v"))
            try:
                out = measure(desc.config, desc.location, ec, "cpu", settings.models_dir)
            except UserError as exc:
                print(f"| {label} | {dtype} | {mode} | | | | | | | error: {exc} |")
                continue
            if out["measured"] is None:
                total = out["estimate"]["bytes"]["total"] / mib
                print(f"| {label} | {dtype} | {mode} | | | | {total:.1f} | | | estimated only: "
                      f"{out['reason']} |")
                continue
            tensors, total = out["comparison"][0], out["comparison"][-1]
            errors.append(abs(total["error_pct"]))
            print(f"| {label} | {dtype} | {mode} | {tensors['estimated'] / mib:.1f} | "
                  f"{tensors['measured'] / mib:.1f} | {tensors['error_pct']:+.1f} | "
                  f"{total['estimated'] / mib:.1f} | {total['measured'] / mib:.1f} | "
                  f"{total['error_pct']:+.1f} | {out['measured']['seconds']:.0f} s |",
                  flush=True)
    if errors:
        within = sum(e <= 10 for e in errors)
        print(f"\n{within}/{len(errors)} measured rows within 10 % on the total; "
              f"largest |error| {max(errors):.1f} %")


if __name__ == "__main__":
    main()
