"""Reader quality and latency: whole chunks vs evidence sentences, beside the no-model baseline.

For each knowledge base (indexed into a temporary data directory on first use) and each reader
configuration, every question of its QA file is answered one at a time (batch size 1, so
``seconds`` is a question's own warm latency: retrieval + generation) in the ``rag`` mode, once
in ``base`` and once in ``extractive`` (retrieval only, no model: the best evidence passage),
the baseline every reader must beat, all in the same run. Every row scores its own output: the
model's text for rag (the ``fallback`` configuration's shown answers get their own row,
``rag+fallback``). Prints answer-hit with its 95 % Wilson interval, exact match, token F1, the
share of passages, the p50/p95 of ``seconds`` and, per reader row, the paired verdict against
the baseline (:func:`core.evaluation.intervals.compare`).

    .venv/bin/python bench/reader.py [--sets kestrane,mirrowdell,default] [--limit 24]
        [--configs chunks,evidence,fallback] [--max-new-tokens 40] [--default-split dev]

Sets: ``kestrane``, ``mirrowdell`` and ``tollhaven`` (invented, bench/data/; all three guided
the reader's design, so they are development sets) and ``default`` (the bundled knowledge
base: choose on its dev split, the default here; report its test split once). The generator
dtype is what ``NLPLAB_GENERATOR_DTYPE`` picks (auto by default).
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
                "dev"),
}
#: reader configuration -> (evidence sentences, extractive fallback, reader)
CONFIGS = {"chunks": (0, False, "free"), "evidence": (1, False, "free"),
           "fallback": (1, True, "free"), "copy": (1, False, "copy"),
           "copy2": (2, False, "copy")}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: ``percentile([1, 2, 3, 4], 0.5)`` -> 2."""
    import math

    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default="kestrane,mirrowdell,default")
    parser.add_argument("--configs", default="chunks,evidence,fallback,copy")
    parser.add_argument("--limit", type=int, default=24, help="questions per set (0 = all)")
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--default-split", choices=("dev", "test"), default="dev",
                        help="the default set's split: choose on dev, report test once")
    args = parser.parse_args()
    os.environ.setdefault("NLPLAB_DATA_DIR", tempfile.mkdtemp(prefix="nlplab-reader-"))

    from core.answering import answer_many, make_context, open_store
    from core.devices import generator_dtype, pick_device
    from core.evaluation import metrics
    from core.evaluation.intervals import compare, mean_ci
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
    print(f"{'set':<11}{'mode':<14}{'reader':<10}{'n':>4}{'answer_hit':>12}{'95% CI':>15}"
          f"{'EM':>7}{'F1':>7}{'passages':>10}{'p50 s':>8}{'p95 s':>8}  vs extractive")
    for name in args.sets.split(","):
        docs, qa, split = SETS[name]
        split = args.default_split if name == "default" else split
        if not store.exists(name):
            store.add_documents(name, read_folder(docs)[0])
        items = select_split(load_qa_file(qa), split)
        items = items[: args.limit] if args.limit else items
        runs = [("extractive", "-", (1, False, "free")), ("base", "-", (0, False, "free"))] + [
            ("rag", c, CONFIGS[c]) for c in args.configs.split(",")]
        baseline = None
        for mode, label, (evidence, fallback, reader) in runs:
            ctx = make_context(settings, name, modes=[mode], generator=generator, store=store,
                               max_new_tokens=args.max_new_tokens, evidence=evidence,
                               extractive_fallback=fallback, reader=reader)
            start = time.perf_counter()
            results = list(answer_many([i.question for i in items], mode, ctx, batch_size=1))
            own = [r["generated"] if mode != "extractive" else r["answer"] for r in results]
            rows = [(mode, own)] + ([("rag+fallback", [r["answer"] for r in results])]
                                    if fallback else [])
            seconds = [r["seconds"] for r in results]
            for row_mode, texts in rows:
                hits = [metrics.answer_hit(t, i.golds).value
                        for t, i in zip(texts, items, strict=True)]
                em = statistics.mean(metrics.exact_match(t, i.golds).value
                                     for t, i in zip(texts, items, strict=True))
                f1 = statistics.mean(metrics.f1_score(t, i.golds).value
                                     for t, i in zip(texts, items, strict=True))
                passages = (1.0 if row_mode == "extractive" else
                            statistics.mean(bool(r["extractive"]) for r in results)
                            if row_mode.endswith("fallback") else 0.0)
                if row_mode == "extractive":
                    baseline, verdict = hits, ""
                else:
                    verdict = compare(hits, baseline, row_mode, "extractive",
                                      "answer_hit")["verdict"]
                low, high = mean_ci(hits)
                print(f"{name:<11}{row_mode:<14}{label:<10}{len(items):>4}"
                      f"{statistics.mean(hits):>12.3f}{f'[{low:.2f}, {high:.2f}]':>15}"
                      f"{em:>7.3f}{f1:>7.3f}{passages:>10.2f}{statistics.median(seconds):>8.2f}"
                      f"{percentile(seconds, 0.95):>8.2f}  {verdict}"
                      f"   ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
