"""Tokens/second of our generation path vs calling ``model.generate`` directly.

Same model, prompt (same chat-templated input ids), greedy settings and token budget; runs
are interleaved (ours, direct, ours, ...) so machine load affects both equally. The primary
ratio compares the best run of each (as `timeit` advises: noise only ever slows a run down, so
the fastest run is the best estimate of the code's own cost); the ratio of medians is printed
too. Target: ratio >= 0.95 (the wrapper adds no real overhead).

    .venv/bin/python bench/generation.py [--runs 7] [--max-new-tokens 64]
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

from core.generation import GenerationConfig
from core.loaders import load_generator
from core.settings import load_settings

PROMPT = ("Explain in a few sentences why the sky looks blue during the day and red at "
          "sunset.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    gen = load_generator(load_settings())
    # min_new_tokens pins the length so both paths decode exactly the same number of tokens.
    config = GenerationConfig(max_new_tokens=args.max_new_tokens,
                              min_new_tokens=args.max_new_tokens)
    enc = gen.encode_prompt(PROMPT)
    prompt_len = enc["input_ids"].shape[1]

    def wrapper() -> float:
        """The public path: Generator.generate (tokenise, lock, generate, decode)."""
        start = time.perf_counter()
        result = gen.generate(PROMPT, config)
        return result.tokens / (time.perf_counter() - start)

    def direct() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            out = gen.model.generate(**enc, do_sample=False, max_new_tokens=args.max_new_tokens,
                                     min_new_tokens=args.max_new_tokens,
                                     pad_token_id=gen.tokenizer.pad_token_id)
        return (out.shape[1] - prompt_len) / (time.perf_counter() - start)

    wrapper(), direct()  # warm-up: first call pays one-off allocation costs
    ours_tps, direct_tps = [], []
    for _ in range(args.runs):
        ours_tps.append(wrapper())
        direct_tps.append(direct())
    med_ours, med_direct = statistics.median(ours_tps), statistics.median(direct_tps)
    print(f"model: {gen.model_id} on {gen.device}, prompt {prompt_len} tokens, "
          f"{args.max_new_tokens} new tokens, {args.runs} interleaved runs each")
    print(f"{'path':<28}{'median tok/s':>14}{'min':>10}{'max':>10}")
    print(f"{'Generator.generate (ours)':<28}{med_ours:>14.2f}{min(ours_tps):>10.2f}"
          f"{max(ours_tps):>10.2f}")
    print(f"{'model.generate (direct)':<28}{med_direct:>14.2f}{min(direct_tps):>10.2f}"
          f"{max(direct_tps):>10.2f}")
    ratio = max(ours_tps) / max(direct_tps)
    verdict = "PASS" if ratio >= 0.95 else "FAIL"
    print(f"ratio ours/direct, best runs: {ratio:.3f} (target >= 0.95) -> {verdict}")
    print(f"ratio ours/direct, medians:   {med_ours / med_direct:.3f} (sensitive to machine load)")


if __name__ == "__main__":
    main()
