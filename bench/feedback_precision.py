"""DPO step time of the feedback drill's trainer: fp32 vs bf16 autocast, same run, interleaved.

Rows look like the drill's: the real generator (SmolLM2-135M-Instruct by default), a RAG-sized
prompt (~420 tokens, the default QA set's mean with top-3 chunks) and short answers. Each
round builds a fresh LoRA trainer (:func:`core.finetune.preference.preference_trainer`) per
precision, in alternating order, and times ``--steps`` optimiser steps after one warm-up step;
prints best-of-N seconds per step, the spread and the ratio fp32 / bf16 (> 1: bf16 faster).
bf16 needs a CPU with native bf16 (AVX512-BF16 / AMX) or a GPU; otherwise only fp32 runs.

    nice -n 5 .venv/bin/python bench/feedback_precision.py --rounds 3 --steps 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CONTEXT = ("Harrowmere Tide Instruments builds tide gauges in Skellwick Haven; the workshop "
           "on Quaymarsh Row was rebuilt within 19 weeks after the 1993 flood. ") * 14


def _rows(tokenizer, n: int) -> list[dict]:
    from core.generator_protocol import chat_text

    rows = []
    for i in range(n):
        prompt = chat_text(tokenizer, f"{CONTEXT}\n\nBased on the text above, answer briefly "
                                      f"(a few words).\nQuestion: Where is item {i}?\nAnswer:",
                           True)
        rows.append({"prompt": prompt, "chosen": "Skellwick Haven.",
                     "rejected": "The workshop was rebuilt and back in use within 19 weeks."})
    return rows


def time_steps(generator, precision: str, rows, steps: int, batch: int) -> float:
    from datasets import Dataset
    from transformers import TrainerCallback

    from core.finetune.preference import preference_trainer, prepare_model
    from core.training.lora import LoraSpec

    marks: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())

    model, tokenizer = prepare_model(generator, None)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = preference_trainer(
            "dpo", model, tokenizer, Dataset.from_list(rows), output_dir=tmp,
            max_steps=steps + 1, batch_size=batch, learning_rate=5e-4, beta=0.1, seed=0,
            device=str(generator.device), max_length=1024,
            peft_config=LoraSpec(dropout=0.0).peft_config(model, task_type="CAUSAL_LM"),
            callbacks=[Clock()], precision=precision)
        trainer.train()
    return (marks[-1] - marks[0]) / steps  # the first step (warm-up) is left out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    from core.loaders import load_generator
    from core.settings import load_settings
    from core.training.precision import bf16_supported

    generator = load_generator(load_settings())
    rows = _rows(generator.tokenizer, args.batch * (args.steps + 1))
    device = str(generator.device).split(":")[0]
    precisions = ["fp32", "bf16"] if bf16_supported(device) else ["fp32"]
    times: dict[str, list[float]] = {p: [] for p in precisions}
    for r in range(args.rounds):
        for p in precisions if r % 2 == 0 else precisions[::-1]:
            times[p].append(time_steps(generator, p, rows, args.steps, args.batch))
            print(f"round {r + 1} {p}: {times[p][-1]:.2f} s/step", file=sys.stderr)
    out = {p: {"best_s_per_step": round(min(t), 3), "spread": round(max(t) - min(t), 3)}
           for p, t in times.items()}
    if "bf16" in out:
        out["speedup_bf16"] = round(out["fp32"]["best_s_per_step"]
                                    / out["bf16"]["best_s_per_step"], 3)
    print(json.dumps({"device": str(generator.device), "batch": args.batch, **out}))


if __name__ == "__main__":
    main()
