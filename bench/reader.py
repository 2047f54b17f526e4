"""Reader quality and latency: whole chunks vs evidence sentences vs + extractive fallback.

For each knowledge base (indexed into a temporary data directory on first use) and each reader
configuration, every question of its QA file is answered one at a time (batch size 1, so
``seconds`` is a question's own warm latency: retrieval + generation) in the ``rag`` mode, and
once in ``base`` for reference. Prints answer-hit (the normalised gold answer or an alias
appears in the answer), exact match, token F1, how often the extractive fallback answered, and
the p50/p95 of ``seconds``. Targets: rag answer-hit >= 0.85 with p50 <= 3 s; base <= 0.2.

    .venv/bin/python bench/reader.py [--sets kestrane,mirrowdell,default] [--limit 24]
        [--configs chunks,evidence,fallback] [--max-new-tokens 48]

Sets: ``kestrane``, ``mirrowdell`` and ``tollhaven`` (invented, bench/data/; tollhaven was
written after the reader was settled, as a held-out check) and ``default`` (the bundled
knowledge base, its QA test split). The generator dtype is what ``NLPLAB_GENERATOR_DTYPE``
picks (auto by default).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

SETS = {
    "kestrane": (ROOT / "bench/data/kestrane", ROOT / "bench/data/kestrane_qa.jsonl", None),
    "mirrowdell": (ROOT / "bench/data/mirrowdell", ROOT / "bench/data/mirrowdell_qa.jsonl",
                   None),
    "tollhaven": (ROOT / "bench/data/tollhaven", ROOT / "bench/data/tollhaven_qa.jsonl", None),
    "default": (ROOT / "assets/knowledge/default", ROOT / "assets/knowledge/default_qa.jsonl",
                "test"),
}
#: reader configuration -> (evidence sentences, extractive fallback)
CONFIGS = {"chunks": (0, False), "evidence": (1, False), "fallback": (1, True)}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: ``percentile([1, 2, 3, 4], 0.5)`` -> 2."""
    import math

    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="kestrane,mirrowdell,default")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--limit", type=int, default=24, help="questions per set (0 = all)")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    os.environ.setdefault("NLPLAB_DATA_DIR", tempfile.mkdtemp(prefix="nlplab-reader-"))

    from core.answering import answer_many, make_context, open_store
    from core.devices import generator_dtype, pick_device
    from core.evaluation import metrics
    from core.loaders import load_generator
    from core.qa import load_qa_file, select_split
    from core.rag.ingest import read_folder
    from core.settings import load_settings

    settings = load_settings()
    store = open_store(settings)
    generator = load_generator(settings)
    dtype = generator_dtype(settings.generator_dtype, pick_device(settings.device))
    print(f"generator {settings.generator_model} ({dtype}), {args.max_new_tokens} new tokens at "
          f"most, one question at a time; load average {os.getloadavg()[0]:.2f}")
    print(f"{'set':<11}{'mode':<6}{'reader':<10}{'n':>4}{'answer_hit':>12}{'EM':>7}{'F1':>7}"
          f"{'extractive':>12}{'p50 s':>8}{'p95 s':>8}")
    for name in args.sets.split(","):
        docs, qa, split = SETS[name]
        if not store.exists(name):
            store.add_documents(name, read_folder(docs)[0])
        items = select_split(load_qa_file(qa), split)
        items = items[: args.limit] if args.limit else items
        runs = [("base", "-", (0, False))] + [("rag", c, CONFIGS[c])
                                              for c in args.configs.split(",")]
        for mode, label, (evidence, fallback) in runs:
            ctx = make_context(settings, name, modes=[mode], generator=generator, store=store,
                               max_new_tokens=args.max_new_tokens, evidence=evidence,
                               extractive_fallback=fallback)
            start = time.perf_counter()
            results = list(answer_many([i.question for i in items], mode, ctx, batch_size=1))
            hit = statistics.mean(metrics.answer_hit(r["answer"], i.golds).value
                                  for r, i in zip(results, items, strict=True))
            em = statistics.mean(metrics.exact_match(r["answer"], i.golds).value
                                 for r, i in zip(results, items, strict=True))
            f1 = statistics.mean(metrics.f1_score(r["answer"], i.golds).value
                                 for r, i in zip(results, items, strict=True))
            seconds = [r["seconds"] for r in results]
            extractive = statistics.mean(bool(r["extractive"]) for r in results)
            print(f"{name:<11}{mode:<6}{label:<10}{len(items):>4}{hit:>12.3f}{em:>7.3f}"
                  f"{f1:>7.3f}{extractive:>12.2f}{statistics.median(seconds):>8.2f}"
                  f"{percentile(seconds, 0.95):>8.2f}   ({time.perf_counter() - start:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
