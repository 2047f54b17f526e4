"""Evaluation questions per minute: the previous path vs the batched one, in one run.

Before (the code as it was): generator weights in fp32, one question at a time, answers run to
the full token budget (no stop at the line break), each multiple-choice option scored from its
own copy of the prompt's KV cache (:func:`legacy_score_choices`, a copy of the old scorer).
After (today's defaults): the generator in the dtype ``NLPLAB_GENERATOR_DTYPE=auto`` picks,
``--batch-size`` questions per batched generation, answers stopped at the first line break,
all choices scored in one pass. Same questions, modes, knowledge base and retrieval; the two
legs alternate (before, after, before, ...) so machine load hits both alike. Prints
questions/minute (question x mode rows per minute) per leg, best and median over repeats, the
speed-up of the best runs (target >= 3x) and how often the two legs' multiple-choice picks agree.

    .venv/bin/python bench/evaluation_speed.py [--qa bench/data/kestrane_qa.jsonl --kb kestrane]
        [--limit 8] [--modes base,rag] [--repeats 2] [--batch-size 8]

The knowledge base must exist (``python -m core index --docs bench/data/kestrane --kb kestrane``).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

from core.evaluation import likelihood, runner  # noqa: E402
from core.evaluation.likelihood import ChoiceScores, _continuation_ids  # noqa: E402


def legacy_score_choices(generator, prompt, choices, *, chat=True, adapter=None):
    """The scorer before batching (copied): prompt once, then one forward per choice over a
    deep copy of the prompt's KV cache."""
    with generator.adapter_model(adapter) as model, torch.inference_mode():
        enc = generator.encode_prompt(prompt, chat=chat)
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                    use_cache=True)
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        sums, counts = [], []
        for choice in choices:
            ids = _continuation_ids(generator, choice, chat)
            total = float(first[ids[0]])
            if len(ids) > 1:
                cont = torch.tensor([ids])
                mask = torch.ones(1, enc["input_ids"].shape[1] + len(ids), dtype=torch.long)
                step = model(input_ids=cont[:, :-1], attention_mask=mask[:, :-1],
                             past_key_values=copy.deepcopy(out.past_key_values), use_cache=True)
                logp = torch.log_softmax(step.logits[0].float(), dim=-1)
                total += float(logp.gather(1, cont[0, 1:].unsqueeze(1)).sum())
            sums.append(total)
            counts.append(len(ids))
        return ChoiceScores(tuple(sums), tuple(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qa", default=str(ROOT / "bench/data/kestrane_qa.jsonl"))
    parser.add_argument("--kb", default="kestrane")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--modes", default="base,rag")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    from core.answering import make_context
    from core.devices import generator_dtype, pick_device
    from core.generation import GenerationConfig, Generator
    from core.loaders import load_causal_or_seq2seq
    from core.qa import load_qa_file
    from core.settings import load_settings

    settings = load_settings()
    items = load_qa_file(args.qa)[: args.limit]
    modes = [m for m in args.modes.split(",") if m]
    after_dtype = generator_dtype(settings.generator_dtype, pick_device(settings.device))
    ctxs = {}
    for leg, dtype in (("before", "float32"), ("after", after_dtype)):
        model, tok, seq2seq = load_causal_or_seq2seq(settings.generator_model, settings, dtype)
        gen = Generator(model, tok, model_id=settings.generator_model, device="cpu",
                        is_seq2seq=seq2seq)
        ctx = make_context(settings, args.kb, modes=modes, generator=gen,
                           store=ctxs["before"].store if ctxs else None)
        if leg == "before":
            ctx.generation = GenerationConfig(max_new_tokens=ctx.generation.max_new_tokens)
        ctxs[leg] = ctx
    embedder = ctxs["before"].store.embedder
    embedder.encode(["warm"])

    def run(leg: str) -> tuple[float, dict]:
        legacy = leg == "before"
        runner.score_choices = legacy_score_choices if legacy else likelihood.score_choices
        start = time.perf_counter()
        result = runner.evaluate(items, modes, ctxs[leg], embedder,
                                 batch_size=1 if legacy else args.batch_size)
        minutes = (time.perf_counter() - start) / 60
        return len(result["rows"]) / minutes, result

    for leg in ("before", "after"):  # warm-up: first calls pay one-off allocation costs
        runner.evaluate(items[:1], modes[:1], replace(ctxs[leg]), embedder, batch_size=1)
    rates: dict[str, list[float]] = {"before": [], "after": []}
    runs = {}
    for _ in range(args.repeats):
        for leg in ("before", "after"):
            rate, runs[leg] = run(leg)
            rates[leg].append(rate)
    load = os.getloadavg()
    print(f"{len(items)} questions x {len(modes)} modes ({','.join(modes)}), kb {args.kb}, "
          f"{args.repeats} alternating repeats; load average {load[0]:.2f} {load[1]:.2f}")
    print(f"{'leg':<48}{'best q/min':>12}{'median':>10}")
    labels = {"before": "before: fp32, one at a time, no stop, per-choice",
              "after": f"after: {after_dtype}, batch {args.batch_size}, stop, one-pass"}
    for leg in ("before", "after"):
        print(f"{labels[leg]:<48}{max(rates[leg]):>12.1f}{statistics.median(rates[leg]):>10.1f}")
    ratio = max(rates["after"]) / max(rates["before"])
    print(f"speed-up, best runs: {ratio:.2f}x (target >= 3x) -> "
          f"{'PASS' if ratio >= 3 else 'FAIL'}")
    same = sum(a["mc_choice"] == b["mc_choice"] for a, b in zip(
        runs["before"]["rows"], runs["after"]["rows"], strict=True))
    print(f"multiple-choice picks agreeing before/after: {same}/{len(runs['after']['rows'])}")
    for mode in modes:
        b, a = runs["before"]["aggregates"][mode], runs["after"]["aggregates"][mode]
        print(f"  {mode}: answer_hit {b['answer_hit']} -> {a['answer_hit']}, "
              f"mc_accuracy {b['mc_accuracy']} -> {a['mc_accuracy']}")


if __name__ == "__main__":
    main()
