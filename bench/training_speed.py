"""LoRA training speed of the fine-tuning pipeline, old default vs new, against the matmul bound.

Every row trains the configured generator (default SmolLM2-135M) through the real code path
(:func:`core.finetune.train.train_lora`, transformers' Trainer) on the same examples: the
knowledge recipe built from a knowledge base's documents (``--docs``, default: the
``island-council`` set in ``bench/data/kbs``), ``--examples`` of them, one epoch, fixed seed.
Rows, in one run, interleaved over ``--repeats`` rounds so machine load hits all alike:

- ``previous default``: one example per row, padded, micro-batches of 1, fp32, the model's
  own loss (every position projected onto the vocabulary);
- ``+ packing``: full 256-token rows of whole examples, micro-batches of 4, fp32;
- ``+ bf16``: the same under bf16 autocast (fp32 master weights);
- ``+ labelled loss`` (**the new default**): the vocabulary projection only where a label is.

Columns: training tokens/s (tokens that carry loss, what the old estimate used), computed
tokens/s (every row position), best of the repeats and the spread, the ratio to the previous
default, and computed tokens/s against this CPU's measured bound: a LoRA step costs about
4 x N FLOP per computed token (forward 2N, backward through the frozen weights 2N; Kaplan et
al. 2020, sec. 2.1), so bound = matmul FLOP/s / 4N, with FLOP/s timed on a square matmul in
the row's precision. Loss agreement: packed fp32 vs packed bf16 train on the same rows in the
same order; the largest per-step loss gap is printed (tolerance: 0.05 nats).

    .venv/bin/python bench/training_speed.py [--examples 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch

import core.finetune.train as train_module
from core.finetune.config import LoraSettings
from core.finetune.data import SourceChunk
from core.settings import load_settings
from core.training.copy import training_copy
from core.training.precision import bf16_supported

KB_SETS = Path(__file__).resolve().parent / "data" / "kbs"
LOSS_TOLERANCE = 0.05


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


def models_own_loss(model, batch):
    """The previous path: the model projects every position (transformers' loss)."""
    return model(**batch, use_cache=False).loss


def recipe_examples(settings, docs: Path, tokenizer, n: int):
    from core.finetune.pipeline import build_examples
    from core.rag.ingest import read_folder

    documents, _ = read_folder(docs)
    chunks = [SourceChunk(d.name, d.text) for d in documents]
    data = build_examples(settings, LoraSettings(), chunks, tokenizer, False, qa_file=None)
    step = max(1, len(data.train) // n)  # spread over kinds (chunks, wordings, questions)
    return data.train[::step][:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", default=str(KB_SETS / "island-council" / "docs"))
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    settings = load_settings()
    _, tokenizer = training_copy(settings.generator_model, settings)
    examples = recipe_examples(settings, Path(args.docs), tokenizer, args.examples)
    new = LoraSettings(epochs=1, seed=0)
    rows = [
        ("previous default", replace(new, packing=False, micro_batch_size=1, batch_size=4,
                                     precision="fp32"), models_own_loss),
        ("+ packing", replace(new, precision="fp32"), models_own_loss),
        ("+ bf16", replace(new, precision="bf16"), models_own_loss),
        ("+ labelled loss (new default)", replace(new, precision="auto"), None),
    ]
    if not bf16_supported("cpu"):
        rows = [r for r in rows if r[1].precision != "bf16"]
    default_loss = train_module._batch_loss
    speeds: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in rows}
    losses: dict[str, list[float]] = {}
    n_params = 0
    for _ in range(args.repeats):
        for name, lora, forward in rows:
            model, _ = training_copy(settings.generator_model, settings)
            n_params = sum(p.numel() for p in model.parameters())
            train_module._batch_loss = forward or default_loss
            try:
                result = train_module.train_lora(model, tokenizer, examples, lora)
            finally:
                train_module._batch_loss = default_loss
            speeds[name].append((result.tokens_per_second, result.row_tokens_per_second))
            losses[name] = result.losses
            print(f"  {name}: {result.tokens_per_second:.1f} training tok/s, "
                  f"{result.row_tokens_per_second:.1f} computed tok/s, precision "
                  f"{result.precision}", file=sys.stderr, flush=True)

    flops = {"fp32": matmul_flops(torch.float32), "bf16": matmul_flops(torch.bfloat16)}
    print(f"model {settings.generator_model}: {n_params / 1e6:.1f} M parameters; "
          f"{len(examples)} recipe examples from {args.docs}, 1 epoch, {args.repeats} rounds; "
          f"torch threads {torch.get_num_threads()}; load {os.getloadavg()[0]:.1f}")
    print("\n| configuration | training tok/s (best) | runs | computed tok/s (best) | "
          "vs previous (training tok/s) | computed / bound |")
    print("|---|---:|---|---:|---:|---:|")
    base = max(s[0] for s in speeds[rows[0][0]])
    for name, lora, _ in rows:
        best_train = max(s[0] for s in speeds[name])
        best_rows = max(s[1] for s in speeds[name])
        precision = "bf16" if lora.precision in ("bf16", "auto") and bf16_supported(
            "cpu") else "fp32"
        bound = flops[precision] / (4 * n_params)
        spread = ", ".join(f"{s[0]:.1f}" for s in speeds[name])
        print(f"| {name} | {best_train:.1f} | {spread} | {best_rows:.1f} | "
              f"{best_train / base:.2f}x | {best_rows / bound:.2f} |")
    med = statistics.median(s[0] for s in speeds[rows[-1][0]]) / statistics.median(
        s[0] for s in speeds[rows[0][0]])
    best_new = max(s[0] for s in speeds[rows[-1][0]])
    print(f"\nnew default / previous default, training tok/s: best {best_new / base:.2f}x, "
          f"median {med:.2f}x")
    if "+ bf16" in losses:
        gap = max(abs(a - b) for a, b in zip(losses["+ packing"], losses["+ bf16"],
                                              strict=True))
        print(f"loss curves, packed fp32 vs packed bf16 (same rows, same order): largest "
              f"per-step gap {gap:.4f} (tolerance {LOSS_TOLERANCE}) -> "
              f"{'agree' if gap <= LOSS_TOLERANCE else 'DISAGREE'}")
        gap = max(abs(a - b) for a, b in zip(losses["+ bf16"], losses[rows[-1][0]],
                                              strict=True))
        print(f"labelled loss vs the model's own loss (both bf16): largest per-step gap "
              f"{gap:.4f}")


if __name__ == "__main__":
    main()
