"""LoRA training tokens/second in fp32 vs bf16 autocast, against this machine's matmul bound.

One run measures, on the configured generator (default SmolLM2-135M) with a LoRA adapter on
peft's default targets: optimiser steps of ``--batch`` x ``--seq`` random-token windows in
fp32, then with ``torch.autocast(dtype=bfloat16)`` (fp32 master weights for the LoRA
parameters and AdamW, as peft keeps them), interleaved so machine load hits both alike. It
also times a square matmul in fp32 and in bf16 to get the FLOP/s this CPU sustains, and turns
it into a training bound: a LoRA step costs about 4 x N FLOP per token (forward 2N, backward
through the frozen weights 2N; the adapter's own weight gradients are negligible; Kaplan et
al. 2020, sec. 2.1), so bound tokens/s = FLOP/s / (4 N). Prints best-of-N and the spread, and
the mean-loss gap between the two precisions over the same batches.

    .venv/bin/python bench/training_speed.py [--steps 4] [--batch 4] [--seq 128] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch

from core.settings import load_settings
from core.training.copy import training_copy
from core.training.lora import LoraSpec


def matmul_flops(dtype: torch.dtype, n: int = 1024, repeats: int = 5) -> float:
    """Best sustained FLOP/s of an n x n matmul (2 n^3 FLOP each)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up: kernel selection
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def train_steps(model, batches, bf16: bool) -> tuple[float, list[float]]:
    """(tokens/s, losses) of one optimiser step per batch."""
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-4)
    losses, tokens, start = [], 0, time.perf_counter()
    for ids in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        tokens += ids.numel()
    return tokens / (time.perf_counter() - start), losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps per run")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2, help="runs per precision")
    args = parser.parse_args()

    settings = load_settings()
    model, _tokenizer = training_copy(settings.generator_model, settings)
    from peft import get_peft_model

    n_params = sum(p.numel() for p in model.parameters())
    model = get_peft_model(model, LoraSpec().peft_config(model, task_type="CAUSAL_LM"))
    model.train()
    vocab = model.config.vocab_size
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, vocab, (args.batch, args.seq), generator=gen)
               for _ in range(args.steps)]
    bf16_ok = bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())

    train_steps(model, batches[:1], bf16=False)  # warm-up both paths
    train_steps(model, batches[:1], bf16=True)
    runs: dict[str, list[float]] = {"fp32": [], "bf16": []}
    losses: dict[str, list[float]] = {}
    state = {k: v.clone() for k, v in model.state_dict().items() if "lora_" in k}
    for _ in range(args.repeats):
        for name in ("fp32", "bf16"):
            model.load_state_dict(state, strict=False)  # same start for both precisions
            tps, losses[name] = train_steps(model, batches, bf16=name == "bf16")
            runs[name].append(tps)

    flops = {"fp32": matmul_flops(torch.float32), "bf16": matmul_flops(torch.bfloat16)}
    print(f"model {settings.generator_model}: {n_params / 1e6:.1f} M parameters; "
          f"batch {args.batch} x {args.seq} tokens, {args.steps} steps, {args.repeats} runs; "
          f"CPU bf16 kernels: {bf16_ok}; torch threads {torch.get_num_threads()}")
    print("| precision | best tok/s | runs (tok/s) | matmul GFLOP/s | bound tok/s (4N) | "
          "best / bound |")
    print("|---|---:|---|---:|---:|---:|")
    for name in ("fp32", "bf16"):
        bound = flops[name] / (4 * n_params)
        best = max(runs[name])
        print(f"| {name} | {best:.1f} | {', '.join(f'{r:.1f}' for r in runs[name])} | "
              f"{flops[name] / 1e9:.1f} | {bound:.1f} | {best / bound:.2f} |")
    ratio = max(runs["bf16"]) / max(runs["fp32"])
    med = statistics.median(runs["bf16"]) / statistics.median(runs["fp32"])
    gap = max(abs(a - b) for a, b in zip(losses["fp32"], losses["bf16"], strict=True))
    print(f"bf16 / fp32: best {ratio:.2f}x, median {med:.2f}x; largest per-step loss gap "
          f"{gap:.4f} (fp32 losses {', '.join(f'{v:.3f}' for v in losses['fp32'])})")


if __name__ == "__main__":
    main()
