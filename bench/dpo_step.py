"""DPO training time of the drill's trainer against TRL's own scoring, same run, interleaved.

Both train the real generator (SmolLM2-135M-Instruct by default) in fp32 with the drill's LoRA,
batch and two epochs over drill-sized rows (a ~150-token RAG-like prompt, short answers):

- ``trl``: TRL 1.16's DPOTrainer as it scores off Triton devices: every position through the
  LM head (the prompt's too, then masked), the reference log-probabilities recomputed in
  every step;
- ``ours``: :func:`core.finetune.preference.preference_trainer`: only the completion
  positions through the LM head, the reference log-probabilities computed once before
  training (the same numbers: the reference is the base model with the adapter off).

Each round times both (alternating order) from building the trainer (the precomputation
happens there) to the last step; prints best-of-N seconds per step, the spread, and the ratio
trl / ours (> 1: ours faster). TRL's bf16=True config default is switched off in both (on a CPU
without native bf16 it alone costs ~10x: 240 s a step measured, see docs/feedback.md).

    nice -n 5 .venv/bin/python bench/dpo_step.py --rounds 3 --steps 4
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
           "on Quaymarsh Row was rebuilt within 19 weeks after the 1993 flood. ") * 5


def _rows(tokenizer, n: int) -> list[dict]:
    from core.generator_protocol import chat_text

    return [{"prompt": chat_text(tokenizer, f"{CONTEXT}\n\nBased on the text above, answer "
                                            f"briefly.\nQuestion: Where is item {i}?\nAnswer:",
                                 True),
             "chosen": "Skellwick Haven.",
             "rejected": "The workshop was rebuilt and back in use within 19 weeks."}
            for i in range(n)]


def _trl_trainer(model, tokenizer, dataset, output_dir, steps, batch, peft_config, callbacks):
    """TRL's DPOTrainer with the drill's settings, scoring as TRL does on a CPU."""
    from trl import DPOConfig, DPOTrainer

    from core.training.precision import AutocastMixin
    from core.training.trainer import quiet, training_args

    args = training_args(Path(output_dir) / "trainer", args_class=DPOConfig, max_steps=steps,
                         batch_size=batch, learning_rate=5e-4, seed=0, device="cpu", beta=0.1,
                         max_length=1024, bf16=False, fp16=False)
    cls = type("TrlDPOTrainer", (AutocastMixin, DPOTrainer), {"precision": "fp32"})
    return quiet(cls(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                     peft_config=peft_config, callbacks=callbacks))


def time_training(generator, variant: str, rows, steps: int, batch: int) -> float:
    """Seconds per optimiser step, from building the trainer to the end of ``steps`` steps."""
    from datasets import Dataset

    from core.finetune.preference import preference_trainer, prepare_model
    from core.training.lora import LoraSpec

    model, tokenizer = prepare_model(generator, None)
    peft_config = LoraSpec(dropout=0.0).peft_config(model, task_type="CAUSAL_LM")
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if variant == "trl":
            trainer = _trl_trainer(model, tokenizer, Dataset.from_list(rows), tmp, steps, batch,
                                   peft_config, [])
        else:
            trainer = preference_trainer(
                "dpo", model, tokenizer, Dataset.from_list(rows), output_dir=tmp,
                max_steps=steps, batch_size=batch, learning_rate=5e-4, beta=0.1, seed=0,
                device="cpu", max_length=1024, peft_config=peft_config, precision="fp32")
        trainer.train()
        return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="optimiser steps (2 epochs)")
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    from core.loaders import load_generator
    from core.settings import load_settings

    settings = load_settings()
    generator = load_generator(settings)
    if str(generator.device) != "cpu" or str(generator.model.dtype) != "torch.float32":
        raise SystemExit("run with NLPLAB_GENERATOR_DTYPE=float32 on the CPU (fp32 training)")
    rows = _rows(generator.tokenizer, args.batch * max(1, args.steps // 2))
    variants = ["trl", "ours"]
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants if r % 2 == 0 else variants[::-1]:
            times[v].append(time_training(generator, v, rows, args.steps, args.batch))
            print(f"round {r + 1} {v}: {times[v][-1]:.2f} s/step", file=sys.stderr)
    out = {v: {"best_s_per_step": round(min(t), 3), "spread": round(max(t) - min(t), 3)}
           for v, t in times.items()}
    out["speedup"] = round(out["trl"]["best_s_per_step"] / out["ours"]["best_s_per_step"], 3)
    print(json.dumps({"batch": args.batch, "steps": args.steps, **out}))


if __name__ == "__main__":
    main()
