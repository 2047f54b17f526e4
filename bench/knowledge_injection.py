"""Knowledge injection: does a LoRA adapter learn the documents? Base / RAG / FT / FT+RAG.

For each knowledge base (the three invented sets in ``bench/data/kbs`` and/or a five-document
slice of the default KB), builds it in a fresh data folder, fine-tunes an adapter with the
``finetune`` defaults (or the settings of each sweep row), and scores every test question of
the set by multiple-choice log-likelihood in the four answer modes (``mc_accuracy``, as
``evaluate`` reports it). Prints one table: each row a (KB, settings) run with its epochs,
training minutes, training tokens/s and the four accuracies; then FT - base and
FT+RAG - RAG. ``--generate`` also generates answers and reports answer-hit (slower).

Commands (2 shared CPU cores):
    .venv/bin/python bench/knowledge_injection.py                       # defaults, 3 sets
    .venv/bin/python bench/knowledge_injection.py --sets default-slice --sweep
    .venv/bin/python bench/knowledge_injection.py --sets island-council --minutes 5 \\
        --targets all --rank 16
The sweep (exposures x wordings x targets), ``--sweep``: on two default-KB documents (the
storm news and the price list: 9 test questions; their 3 train-split questions join the
recipe), a time budget of 0.75 or 1.5 minutes (the epochs it buys are printed) x 1 or 3
template wordings per chunk x LoRA on attention (q_proj, v_proj) or on every linear layer:
8 runs, about 15 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

KB_SETS = Path(__file__).resolve().parent / "data" / "kbs"
MODES = ("base", "rag", "finetuned", "finetuned+rag")
TARGETS = {"attention": ("q_proj", "v_proj"),
           "all": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")}
SLICE_DOCS = ("news-storm-ebbrin.txt", "news-vessary-contract.txt", "news-brackwater-solar.txt",
              "news-apprentice-school.txt", "price-list-2024.txt")
SWEEP_DOCS = ("news-storm-ebbrin.txt", "price-list-2024.txt")  # 9 test, 3 train questions
SWEEP = {"minutes": (0.75, 1.5), "wordings": (1, 3), "targets": ("attention", "all")}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", default="valley-railway,protein-lab-wiki,island-council",
                   help="comma-separated: names under bench/data/kbs and/or default-slice")
    p.add_argument("--minutes", type=float, default=None, help="time budget (default: the "
                                                               "finetune default)")
    p.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of minutes")
    p.add_argument("--wordings", type=int, default=None, help="template wordings per chunk")
    p.add_argument("--targets", choices=("default", *TARGETS), default="default")
    p.add_argument("--rank", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--data", default=None, help="knowledge|chunks|paraphrases|qa")
    p.add_argument("--sweep", action="store_true", help="minutes x wordings x targets grid")
    p.add_argument("--generate", action="store_true", help="also generate and score answers")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--docs", type=int, default=0, help="train and ask on the first N "
                                                       "documents of each set only (0 = all)")
    p.add_argument("--keep", default="", help="keep the data folder here (default: temp)")
    return p.parse_args()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def kb_source(name: str, sweep: bool = False) -> tuple[Path, Path, set[str] | None]:
    """(documents folder, QA file, documents to keep or None for all)."""
    from core.qa import DEFAULT_QA_FILE
    from core.rag.defaults import DEFAULT_DOCS_DIR

    if name == "default-slice":
        return DEFAULT_DOCS_DIR, DEFAULT_QA_FILE, set(SWEEP_DOCS if sweep else SLICE_DOCS)
    folder = KB_SETS / name
    if not folder.is_dir():
        raise SystemExit(f"no KB set {name!r} under {KB_SETS}")
    return folder / "docs", folder / "qa.jsonl", None


def lora_rows(args) -> list[tuple[str, object]]:
    """(label, LoraSettings) for each run."""
    from core.finetune.config import LoraSettings

    base = LoraSettings()
    changes: dict[str, object] = {}
    if args.minutes is not None:
        changes["minutes"] = args.minutes
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.wordings is not None:
        changes["paraphrases_per_chunk"] = args.wordings
    if args.targets != "default":
        changes["target_modules"] = TARGETS[args.targets]
    if args.rank is not None:
        changes.update(rank=args.rank, alpha=2 * args.rank)
    if args.lr is not None:
        changes["learning_rate"] = args.lr
    if args.data:
        changes["data_mode"] = args.data
    base = replace(base, **changes)
    if not args.sweep:
        return [("defaults" if not changes else ",".join(f"{k}={v}" for k, v in
                                                       changes.items()), base)]
    rows = []
    for minutes, wordings, targets in itertools.product(*SWEEP.values()):
        label = f"{minutes:g} min, {wordings} wordings, {targets}"
        rows.append((label, replace(base, minutes=minutes, epochs=0,
                                    paraphrases_per_chunk=wordings,
                                    target_modules=TARGETS[targets])))
    return rows


def mode_means(items, modes, ctx, score) -> dict[str, float]:
    """Per mode, the mean of ``score(prepared job, item)`` over the questions."""
    from core.answering import prepare

    return {mode: sum(score(prepare(item.question, mode, ctx), item) for item in items)
            / len(items) for mode in modes}


def mc_accuracy(items, modes, ctx) -> dict[str, float]:
    from core.evaluation.likelihood import score_choices

    def correct(job, item) -> float:
        scores = score_choices(ctx.generator, job.prompt.prompt, item.choices,
                               chat=job.prompt.chat, adapter=job.adapter)
        return float(scores.best_mean == item.correct_choice)

    return mode_means(items, modes, ctx, correct)


def answer_hits(items, modes, ctx) -> dict[str, float]:
    from core.evaluation.metrics import answer_hit

    def hit(job, item) -> float:
        text = ctx.generator.generate(job.prompt.prompt, ctx.generation, chat=job.prompt.chat,
                                      adapter=job.adapter).text
        return answer_hit(text, item.golds).value or 0.0

    return mode_means(items, modes, ctx, hit)


def main() -> int:
    args = parse_args()
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="nlplab-ki-"))
    os.environ["NLPLAB_DATA_DIR"] = str(data_dir)
    # the converted generator is reused from the usual cache (converting takes minutes)
    os.environ.setdefault("NLPLAB_MODEL_CACHE", str(Path(__file__).resolve().parent.parent
                                                    / ".appdata" / "models"))
    from core.answering import make_context
    from core.finetune.pipeline import run_finetune
    from core.loaders import load_embedder, load_generator
    from core.qa import load_qa_file, select_split
    from core.rag.ingest import read_folder
    from core.rag.store import KnowledgeStore
    from core.settings import load_settings
    from core.training.callbacks import TrainingHooks

    settings = load_settings()
    embedder = load_embedder(settings)
    store = KnowledgeStore(settings, embedder)
    generator = load_generator(settings)
    results = []
    try:
        for set_name in ("default-slice",) if args.sweep else args.sets.split(","):
            folder, qa_file, keep = kb_source(set_name, args.sweep)
            kb = set_name.replace("_", "-") + ("-sweep" if args.sweep else "")
            if not store.exists(kb):
                docs, _ = read_folder(folder)
                if keep is not None:
                    docs = [d for d in docs if d.name in keep]
                store.add_documents(kb, docs)
            items = [i for i in select_split(load_qa_file(qa_file), "test")
                     if keep is None or i.source in keep]
            documents = None
            if args.docs:
                documents = set(sorted({i.source for i in items})[:args.docs])
                items = [i for i in items if i.source in documents]
            for label, lora in lora_rows(args):
                adapter = f"ki-{len(results)}"
                log(f"{set_name}: fine-tuning ({label})")
                summary = run_finetune(settings, kb, adapter, lora, overwrite=True,
                                       qa_file=qa_file, documents=documents, hooks=TrainingHooks(
                                           step=lambda s, t, loss: s % 10 == 0 and log(
                                               f"step {s}/{t} loss {loss:.3f}")))
                ctx = make_context(settings, kb, adapter=adapter, modes=MODES,
                                   top_k=args.top_k, generator=generator, embedder=embedder,
                                   store=store, max_new_tokens=32)
                log(f"{set_name}: scoring {len(items)} questions x {len(MODES)} modes")
                row = {"set": set_name, "settings": label, "questions": len(items),
                       "epochs": summary["epochs"], "stopped": summary["stopped"] or "-",
                       "train_minutes": round(summary["train_seconds"] / 60, 2),
                       "tokens_per_second": summary["tokens_per_second"],
                       "precision": summary["precision"],
                       "held_out_losses": summary["held_out_losses"],
                       "mc": mc_accuracy(items, MODES, ctx)}
                if args.generate:
                    row["answer_hit"] = answer_hits(items, MODES, ctx)
                log(json.dumps(row))
                results.append(row)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    print_table(results, settings)
    return 0


def print_table(results: list[dict], settings) -> None:
    print(f"\nKnowledge injection · generator {settings.generator_model} · multiple-choice "
          "accuracy (log-likelihood, length-normalised) per answer mode")
    print("\n| set | settings | q | epochs | stopped | train min | tok/s | base | RAG | FT | "
          "FT+RAG | FT-base | FT+RAG-RAG |")
    print("|" + "---|" * 13)
    for r in results:
        mc = r["mc"]
        print(f"| {r['set']} | {r['settings']} | {r['questions']} | {r['epochs']} | "
              f"{r['stopped']} | {r['train_minutes']:.1f} | {r['tokens_per_second']:.0f} | "
              + " | ".join(f"{mc[m]:.2f}" for m in MODES)
              + f" | {mc['finetuned'] - mc['base']:+.2f} | "
                f"{mc['finetuned+rag'] - mc['rag']:+.2f} |")
    if any("answer_hit" in r for r in results):
        print("\nAnswer hit (generated answer contains the gold answer or an alias):")
        for r in results:
            if "answer_hit" in r:
                print(f"  {r['set']} / {r['settings']}: " + ", ".join(
                    f"{m} {r['answer_hit'][m]:.2f}" for m in MODES))


if __name__ == "__main__":
    raise SystemExit(main())
