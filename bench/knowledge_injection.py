"""Knowledge injection: fine-tuning vs retrieval on the default knowledge base (issue #4).

Fine-tunes a LoRA adapter on the default knowledge base with the default offline generator,
then evaluates base, RAG, fine-tuned and fine-tuned + RAG on the QA set's test split and prints
one table (scores are fractions; "vs base" ratios are measured in the same run), plus the
training time and LoRA training tokens/s.

Full run (the whole KB, every test question: hours on 2 shared CPU cores):
    .venv/bin/python bench/knowledge_injection.py
Quick run (a few test questions; the adapter trains only on the chunks that hold their
answers, so the fine-tuned modes get a fair chance in minutes):
    .venv/bin/python bench/knowledge_injection.py --quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from core.evaluation.metrics import normalize_answer
from core.qa import DEFAULT_QA_FILE, load_qa_file, select_split
from core.settings import load_settings

COLUMNS = ["exact_match", "f1", "mc_accuracy", "mc_accuracy_sum", "hit_rate", "mrr",
           "grounding_overlap", "relevance", "seconds_per_question"]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few questions, answer chunks only")
    p.add_argument("--questions", type=int, default=0, help="test questions (0 = all; "
                                                            "--quick defaults to 4)")
    p.add_argument("--epochs", type=int, default=0, help="0 = 3 (quick) or 2 (full)")
    p.add_argument("--data", default="chunks", choices=("chunks", "paraphrases", "qa"))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--kb", default="default")
    p.add_argument("--top-k", type=int, default=4, help="retrieved chunks (README run: 4)")
    p.add_argument("--adapter", default="", help="reuse this adapter instead of training")
    p.add_argument("--save-as", default="", help="name of the trained adapter "
                                                 "(default bench-<data>-<quick|full>)")
    return p.parse_args()


def holds_answer(item, text: str) -> bool:
    norm = f" {normalize_answer(text)} "
    return any(f" {normalize_answer(g)} " in norm for g in item.golds if normalize_answer(g))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> int:
    args = parse_args()
    settings = load_settings()
    from core.answering import ALL_MODES, make_context
    from core.evaluation.runner import evaluate, save_run
    from core.finetune.config import LoraSettings
    from core.finetune.pipeline import run_finetune
    from core.loaders import load_embedder, load_generator
    from core.rag.defaults import ensure_default_kb
    from core.rag.store import KnowledgeStore
    from core.training.callbacks import TrainingHooks

    n = args.questions or (4 if args.quick else 0)
    items = select_split(load_qa_file(DEFAULT_QA_FILE), "test")
    items = items[:: max(1, len(items) // n)][:n] if n else items  # spread over documents
    embedder = load_embedder(settings)
    store = KnowledgeStore(settings, embedder)
    if args.kb == "default" and not store.exists("default"):
        log("building the default knowledge base")
        ensure_default_kb(store)

    training: dict[str, object] = {}
    adapter = args.adapter
    if not adapter:
        adapter = args.save_as or f"bench-{args.data}-{'quick' if args.quick else 'full'}"
        epochs = args.epochs or (3 if args.quick else 2)
        lora = LoraSettings(epochs=epochs, data_mode=args.data, learning_rate=args.lr)
        select, label, documents = None, "", None
        if args.quick:
            documents = {i.source for i in items}

            def select(chunk):
                return any(holds_answer(i, chunk.text) for i in items if i.source ==
                           chunk.document)

            label = "chunks holding the answers of the evaluated questions"
        log(f"fine-tuning {adapter} ({args.data}, {epochs} epochs)")
        summary = run_finetune(settings, args.kb, adapter, lora, overwrite=True,
                               documents=documents, select=select, select_label=label,
                               hooks=TrainingHooks(step=lambda s, t, loss: log(
                                   f"step {s}/{t} loss {loss:.3f}")))
        training = {k: summary[k] for k in ("examples", "steps", "train_tokens",
                                            "train_seconds", "tokens_per_second", "train_loss")}
        training["first_loss"] = summary["losses"][0]
        log(f"training: {json.dumps(training)}")

    generator = load_generator(settings)
    ctx = make_context(settings, args.kb, adapter=adapter, modes=ALL_MODES,
                       max_new_tokens=args.max_new_tokens, top_k=args.top_k,
                       generator=generator,
                       embedder=embedder, store=store)
    run = evaluate(items, list(ALL_MODES), ctx, embedder,
                   progress=lambda f, m: log(f"{f:5.0%} {m}"),
                   meta={"kb": args.kb, "adapter": adapter, "qa_file": str(DEFAULT_QA_FILE),
                         "bench": "knowledge_injection", "training": training})
    path = save_run(settings, run)
    print_table(run, training, args, path)
    return 0


def fmt(value) -> str:
    return "  n/a" if value is None else f"{value:5.3f}" if value <= 1 else f"{value:5.1f}"


def print_table(run: dict, training: dict, args, path: Path) -> None:
    aggs = run["aggregates"]
    print(f"\nKnowledge injection · {run['n']} test questions · generator "
          f"{load_settings().generator_model} · adapter trained on {args.data}"
          + (" (quick)" if args.quick else ""))
    if training:
        print(f"LoRA training: {training['examples']} examples, {training['steps']} steps, "
              f"{training['train_tokens']} tokens in {training['train_seconds'] / 60:.1f} min "
              f"= {training['tokens_per_second']:.1f} training tokens/s; loss: first step "
              f"{training['first_loss']:.3f}, mean of the last 5 steps "
              f"{training['train_loss']:.3f}")
    print("\n| mode | " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * (len(COLUMNS) + 1))
    for mode, agg in aggs.items():
        print(f"| {mode} | " + " | ".join(fmt(agg.get(c)) for c in COLUMNS) + " |")
    base = aggs.get("base", {})
    print("\nRatios vs base (same run; n/a where base is 0 or the metric does not apply):")
    for metric in ("f1", "mc_accuracy"):
        ratios = []
        for mode, agg in aggs.items():
            b, v = base.get(metric), agg.get(metric)
            ratios.append(f"{mode} {v / b:.2f}x" if b and v is not None else f"{mode} n/a")
        print(f"  {metric}: " + ", ".join(ratios))
    print(f"\nrun saved: {path}")


if __name__ == "__main__":
    raise SystemExit(main())
