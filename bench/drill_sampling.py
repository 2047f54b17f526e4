"""The feedback drill's sampling: one shared reading of each prompt vs ``num_return_sequences``.

The drill samples several answers per RAG prompt (~420 tokens). ``generate`` with
``num_return_sequences=4`` copies each prompt 4 times before reading it, so the prompt is
read 4 times; :func:`core.finetune.preference_loop.answer_prompts` reads it once and copies
the KV cache (:func:`core.generation.shared_prompt_cache`). Both sides here sample the same prompts
with the same settings (batch 16 rows, 4 samples, 24 new tokens, top-p 0.95, top-k 50),
interleaved per round; prints best-of-N seconds, the spread and the ratio baseline / shared
(> 1: sharing is faster). Prompts: the default QA set's test questions with their top-3
chunks, built by the drill's own code (``rag`` mode), on the configured generator.

    nice -n 5 .venv/bin/python bench/drill_sampling.py --prompts 16 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def baseline(model, tokenizer, texts, *, samples: int, batch: int, max_new_tokens: int):
    """The drill's sampling before the shared cache: ``num_return_sequences`` per batch."""
    import torch

    tokenizer.padding_side = "left"
    texts = sorted(texts, key=lambda t: len(tokenizer(t)["input_ids"]))
    per = max(1, batch // samples)
    for start in range(0, len(texts), per):
        enc = tokenizer(texts[start:start + per], return_tensors="pt", padding=True,
                        add_special_tokens=False)
        with torch.inference_mode():
            model.generate(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                           max_new_tokens=max_new_tokens, num_return_sequences=samples,
                           do_sample=True, temperature=0.8, top_p=0.95, top_k=50,
                           pad_token_id=tokenizer.pad_token_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=4)
    args = parser.parse_args()
    import torch

    from core.answering import make_context
    from core.answering import open_store as open_kb
    from core.finetune.preference_loop import SAMPLING_TOP_K, _prompts, answer_prompts
    from core.generator_protocol import GenerationConfig
    from core.qa import DEFAULT_QA_FILE, load_qa_file, select_split
    from core.rag.defaults import ensure_default_kb
    from core.settings import load_settings

    settings = load_settings()
    store = open_kb(settings)
    ensure_default_kb(store)
    ctx = make_context(settings, "default", modes=["rag"], max_new_tokens=24, store=store)
    model, tokenizer = ctx.generator.model, ctx.generator.tokenizer
    items = select_split(load_qa_file(DEFAULT_QA_FILE), "test")[:args.prompts]
    prompts = _prompts(items, "rag", ctx)
    texts = [p.text(tokenizer) for p in prompts]
    sampling = GenerationConfig(max_new_tokens=24, temperature=0.8, top_p=0.95,
                                top_k=SAMPLING_TOP_K)
    tokens = [len(tokenizer(t)["input_ids"]) for t in texts]
    common = {"samples": args.samples, "max_new_tokens": 24}
    sides = {
        "num_return_sequences": lambda: baseline(model, tokenizer, texts, batch=16, **common),
        "shared_cache": lambda: answer_prompts(model, tokenizer, [p.prompt for p in prompts],
                                               sampling, batch_size=16, samples=args.samples),
    }
    times: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(args.rounds):
        for name in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            torch.manual_seed(r)
            t0 = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - t0)
            print(f"round {r + 1} {name}: {times[name][-1]:.1f} s", file=sys.stderr)
    out = {k: {"best_s": round(min(t), 2), "spread": round(max(t) - min(t), 2)}
           for k, t in times.items()}
    print(json.dumps({"prompts": len(texts), "mean_prompt_tokens": round(sum(tokens)
                                                                         / len(tokens)),
                      "samples": args.samples, **out,
                      "speedup": round(out["num_return_sequences"]["best_s"]
                                       / out["shared_cache"]["best_s"], 3)}))


if __name__ == "__main__":
    main()
