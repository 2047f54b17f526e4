"""Knowledge injection: does a LoRA adapter learn the documents? Base, extractive, RAG, FT, FT+RAG.

For each knowledge-base set (``SETS``: each labelled ``dev`` or ``test``), builds it in a fresh
data folder, fine-tunes an adapter with the ``finetune`` defaults (or the settings of each
sweep row), and scores every question of the set's split by multiple-choice log-likelihood in
the four model modes (``mc_accuracy``, as ``evaluate`` reports it), plus the no-model
``extractive`` baseline (its passage: the choice it contains, earliest first; none = wrong).
Prints one table: each row a (set, settings) run with its dev/test label, n, epochs, training
minutes, tokens/s and the five accuracies, each with its 95 % Wilson interval
(:func:`core.evaluation.intervals.mean_ci`); then FT - base and FT+RAG - RAG as paired
verdicts (:func:`core.evaluation.intervals.compare`, paired bootstrap over the questions).
``--generate`` also generates answers and reports answer hit (slower).

Sets: ``dev`` = kestrane, mirrowdell, tollhaven (``bench/data``; their QA files say "test"
but they guided the recipe's design, so they are development sets) and ``default-dev`` (the
default KB's dev split on a five-document slice); ``test`` = island-council, valley-railway,
protein-lab-wiki (``bench/data/kbs``) and ``default-test`` (the same slice's test split).
``--kb-dir DIR --qa FILE`` adds one more set (label ``--label``, default ``unseen``; every
non-train question of the file).

Commands (2 shared CPU cores):
    .venv/bin/python bench/knowledge_injection.py --sets dev            # the 4 dev sets
    .venv/bin/python bench/knowledge_injection.py --sets test           # the 4 test sets
    .venv/bin/python bench/knowledge_injection.py --sets kestrane --docs 2 --minutes 2 \\
        --recipe classic,full                                          # two recipes, one run
    .venv/bin/python bench/knowledge_injection.py --sets none --kb-dir /path/kb/docs \\
        --qa /path/kb/qa.jsonl
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
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

KB_SETS = Path(__file__).resolve().parent / "data" / "kbs"
DEV_SETS = Path(__file__).resolve().parent / "data"
MODES = ("base", "rag", "finetuned", "finetuned+rag")
ROW_MODES = ("base", "extractive", "rag", "finetuned", "finetuned+rag")
TARGETS = {"attention": ("q_proj", "v_proj"),
           "all": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")}
SLICE_DOCS = ("news-storm-ebbrin.txt", "news-vessary-contract.txt", "news-brackwater-solar.txt",
              "news-apprentice-school.txt", "price-list-2024.txt")
SWEEP_DOCS = ("news-storm-ebbrin.txt", "price-list-2024.txt")  # 9 test, 3 train questions
SWEEP = {"minutes": (0.75, 1.5), "wordings": (1, 3), "targets": ("attention", "all")}


@dataclass(frozen=True)
class KBSet:
    """One benchmark set: where its documents and questions are, which split is asked."""

    label: str  # dev or test (or unseen): what it may be used for
    docs: Path
    qa: Path
    split: str | None  # None: every non-train question
    keep: tuple[str, ...] | None = None  # documents to build (None: all)


def _sets() -> dict[str, KBSet]:
    from core.qa import DEFAULT_QA_FILE
    from core.rag.defaults import DEFAULT_DOCS_DIR

    table = {name: KBSet("dev", DEV_SETS / name, DEV_SETS / f"{name}_qa.jsonl", "test")
             for name in ("kestrane", "mirrowdell", "tollhaven")}
    table["default-dev"] = KBSet("dev", DEFAULT_DOCS_DIR, DEFAULT_QA_FILE, "dev", SLICE_DOCS)
    table |= {name: KBSet("test", KB_SETS / name / "docs", KB_SETS / name / "qa.jsonl", "test")
              for name in ("island-council", "valley-railway", "protein-lab-wiki")}
    table["default-test"] = KBSet("test", DEFAULT_DOCS_DIR, DEFAULT_QA_FILE, "test", SLICE_DOCS)
    table["default-slice"] = table["default-test"]  # the earlier name
    table["default-sweep"] = KBSet("dev", DEFAULT_DOCS_DIR, DEFAULT_QA_FILE, "test", SWEEP_DOCS)
    return table


GROUPS = {"dev": ("kestrane", "mirrowdell", "tollhaven", "default-dev"),
          "test": ("island-council", "valley-railway", "protein-lab-wiki", "default-test"),
          "none": ()}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sets", default="valley-railway,protein-lab-wiki,island-council",
                   help="comma-separated set names (see SETS) or the groups dev, test, none")
    p.add_argument("--kb-dir", default="", help="one more set: this documents folder ...")
    p.add_argument("--qa", default="", help="... with this QA file (non-train questions)")
    p.add_argument("--label", default="unseen", help="the --kb-dir set's label")
    p.add_argument("--minutes", default=None, help="time budget(s), comma-separated "
                                                    "(default: the finetune default)")
    p.add_argument("--epochs", type=int, default=None, help="fixed epochs instead of minutes")
    p.add_argument("--wordings", type=int, default=None, help="template wordings per chunk")
    p.add_argument("--targets", default="default",
                   help="comma-separated: default, attention, all")
    p.add_argument("--rank", default=None, help="LoRA rank(s), comma-separated (alpha = 2r)")
    p.add_argument("--lr", default=None, help="learning rate(s), comma-separated")
    p.add_argument("--recipe", default=None, help="knowledge recipe(s), comma-separated: "
                                                   "classic, full")
    p.add_argument("--order", default=None, help="example order(s): shuffled, questions-first")
    p.add_argument("--context-share", default=None,
                   help="share(s) of derived questions also asked with evidence (0..1)")
    p.add_argument("--data", default=None, help="knowledge|chunks|paraphrases|qa")
    p.add_argument("--precision", default=None, help="auto|fp32|bf16 (fp32 with "
                                                     "ONEDNN_MAX_CPU_ISA=AVX2 emulates a CPU "
                                                     "without bf16)")
    p.add_argument("--sweep", action="store_true", help="minutes x wordings x targets grid")
    p.add_argument("--generate", action="store_true", help="also generate and score answers")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--docs", type=int, default=0, help="train and ask on the first N "
                                                       "documents of each set only (0 = all)")
    p.add_argument("--keep", default="", help="keep the data folder here (default: temp)")
    p.add_argument("--json", default="", help="also write the rows (per-question scores "
                                               "included) to this file")
    return p.parse_args()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def chosen_sets(args) -> list[tuple[str, KBSet]]:
    table = _sets()
    names: list[str] = []
    for name in (n.strip() for n in args.sets.split(",") if n.strip()):
        names += GROUPS.get(name, (name,))
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown set(s) {', '.join(unknown)}; known: {', '.join(table)}")
    out = [(n, table[n]) for n in names]
    if args.kb_dir:
        if not args.qa:
            raise SystemExit("--kb-dir needs --qa")
        out.append((Path(args.kb_dir).resolve().parent.name or "custom",
                    KBSet(args.label, Path(args.kb_dir), Path(args.qa), None)))
    return out


def _values(text: str | None, cast) -> list:
    return [cast(v.strip()) for v in text.split(",")] if text else [None]


def lora_rows(args) -> list[tuple[str, object]]:
    """(label, LoraSettings) for each run: the product of the comma-separated options."""
    from core.finetune.config import LoraSettings

    base = LoraSettings()
    fixed: dict[str, object] = {}
    if args.epochs is not None:
        fixed["epochs"] = args.epochs
    if args.wordings is not None:
        fixed["paraphrases_per_chunk"] = args.wordings
    if args.data:
        fixed["data_mode"] = args.data
    if getattr(args, "precision", None):
        fixed["precision"] = args.precision
    base = replace(base, **fixed)
    if args.sweep:
        rows = []
        for minutes, wordings, targets in itertools.product(*SWEEP.values()):
            label = f"{minutes:g} min, {wordings} wordings, {targets}"
            rows.append((label, replace(base, minutes=minutes, epochs=0,
                                        paraphrases_per_chunk=wordings,
                                        target_modules=TARGETS[targets])))
        return rows
    grid = {"minutes": _values(args.minutes, float), "targets": _values(args.targets, str),
            "rank": _values(args.rank, int), "lr": _values(args.lr, float),
            "recipe": _values(args.recipe, str), "order": _values(args.order, str),
            "context_share": _values(args.context_share, float)}
    rows = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo, strict=True))
        changes: dict[str, object] = dict(fixed)
        lora = base
        if values["minutes"] is not None:
            changes["minutes"] = values["minutes"]
            lora = replace(lora, minutes=values["minutes"])
        if values["targets"] not in (None, "default"):
            changes["targets"] = values["targets"]
            lora = replace(lora, target_modules=TARGETS[values["targets"]])
        if values["rank"] is not None:
            changes["rank"] = values["rank"]
            lora = replace(lora, rank=values["rank"], alpha=2 * values["rank"])
        if values["lr"] is not None:
            changes["lr"] = values["lr"]
            lora = replace(lora, learning_rate=values["lr"])
        for key in ("recipe", "order", "context_share"):
            if values[key] is not None:
                changes[key] = values[key]
                lora = replace(lora, **{key: values[key]})
        label = "defaults" if not changes else ",".join(f"{k}={v}" for k, v in changes.items())
        rows.append((label, lora))
    return rows


def per_question(items, modes, ctx, score) -> dict[str, list[float]]:
    """Per mode, ``score(prepared job, item)`` for every question, in order."""
    from core.answering import prepare

    return {mode: [score(prepare(item.question, mode, ctx), item) for item in items]
            for mode in modes}


def mc_scores(items, modes, ctx) -> dict[str, list[float]]:
    from core.evaluation.likelihood import score_choices

    def correct(job, item) -> float:
        scores = score_choices(ctx.generator, job.prompt.prompt, item.choices,
                               chat=job.prompt.chat, adapter=job.adapter)
        return float(scores.best_mean == item.correct_choice)

    return per_question(items, modes, ctx, correct)


def extractive_choice(passage: str, choices) -> int | None:
    """The choice the no-model baseline's passage contains (earliest in it first), or None.

    Example: ``extractive_choice("Spin at 18,000 x g.", ["12,000 x g", "18,000 x g"])`` -> 1.
    """
    text = passage.lower()
    found = [(text.find(c.strip().lower()), i) for i, c in enumerate(choices)
             if c.strip() and c.strip().lower() in text]
    return min(found)[1] if found else None


def extractive_scores(items, ctx) -> tuple[list[float], list[float]]:
    """(multiple-choice correct, answer hit) of the retrieval-only passage per question."""
    from core.answering import prepare
    from core.evaluation.metrics import answer_hit

    mc, hits = [], []
    for item in items:
        job = prepare(item.question, "extractive", ctx)
        passage = job.finish(item.question, "").text
        mc.append(float(extractive_choice(passage, item.choices) == item.correct_choice))
        hits.append(answer_hit(passage, item.golds).value or 0.0)
    return mc, hits


def answer_hits(items, modes, ctx) -> dict[str, list[float]]:
    from core.evaluation.metrics import answer_hit

    def hit(job, item) -> float:
        text = ctx.generator.generate(job.prompt.prompt, ctx.generation, chat=job.prompt.chat,
                                      adapter=job.adapter).text
        return answer_hit(text, item.golds).value or 0.0

    return per_question(items, modes, ctx, hit)


def set_items(kb_set: KBSet, docs: int):
    """(questions, documents to train on or None) of one set."""
    from core.qa import load_qa_file, select_split

    rows = load_qa_file(kb_set.qa)
    items = (select_split(rows, kb_set.split) if kb_set.split
             else [i for i in rows if i.split != "train"])
    if kb_set.keep is not None:
        items = [i for i in items if i.source in kb_set.keep]
    documents = set(kb_set.keep) if kb_set.keep is not None else None
    if docs:
        documents = set(sorted({i.source for i in items})[:docs])
        items = [i for i in items if i.source in documents]
    return items, documents


def main() -> int:
    args = parse_args()
    data_dir = Path(args.keep or tempfile.mkdtemp(prefix="nlplab-ki-"))
    os.environ["NLPLAB_DATA_DIR"] = str(data_dir)
    # the converted generator is reused from the usual cache (converting takes minutes)
    os.environ.setdefault("NLPLAB_MODEL_CACHE", str(Path(__file__).resolve().parent.parent
                                                    / ".appdata" / "models"))
    from core.adapters import AdapterRegistry
    from core.answering import make_context
    from core.finetune.pipeline import run_finetune
    from core.loaders import load_embedder, load_generator
    from core.rag.ingest import read_folder
    from core.rag.store import KnowledgeStore
    from core.settings import load_settings
    from core.training.callbacks import TrainingHooks

    sets = [("default-sweep", _sets()["default-sweep"])] if args.sweep else chosen_sets(args)
    runs = lora_rows(args)
    settings = load_settings()
    embedder = load_embedder(settings)
    store = KnowledgeStore(settings, embedder)
    generator = load_generator(settings)
    results = []
    try:
        for set_name, kb_set in sets:
            kb = "ki-" + set_name.replace("_", "-")
            if not store.exists(kb):
                docs, _ = read_folder(kb_set.docs)
                if kb_set.keep is not None:
                    docs = [d for d in docs if d.name in kb_set.keep]
                store.add_documents(kb, docs)
            items, documents = set_items(kb_set, args.docs)
            base_ctx = make_context(settings, kb, modes=("base", "rag", "extractive"),
                                    top_k=args.top_k, generator=generator, embedder=embedder,
                                    store=store, max_new_tokens=32)
            log(f"{set_name}: scoring {len(items)} questions without an adapter")
            plain = mc_scores(items, ("base", "rag"), base_ctx)
            plain["extractive"], extractive_hit = extractive_scores(items, base_ctx)
            plain_hits = answer_hits(items, ("base", "rag"), base_ctx) if args.generate else {}
            for label, lora in runs:
                adapter = f"ki-{len(results)}"
                log(f"{set_name}: fine-tuning ({label})")
                started = time.perf_counter()
                summary = run_finetune(settings, kb, adapter, lora, overwrite=True,
                                       qa_file=kb_set.qa, documents=documents,
                                       hooks=TrainingHooks(step=lambda s, t, loss: s % 10 == 0
                                                           and log(f"step {s}/{t} loss "
                                                                   f"{loss:.3f}")))
                finetune_minutes = (time.perf_counter() - started) / 60
                ctx = make_context(settings, kb, adapter=adapter, modes=MODES,
                                   top_k=args.top_k, generator=generator, embedder=embedder,
                                   store=store, max_new_tokens=32)
                log(f"{set_name}: scoring {len(items)} questions x 2 adapter modes")
                mc = {**plain, **mc_scores(items, ("finetuned", "finetuned+rag"), ctx)}
                row = {"set": set_name, "label": kb_set.label, "settings": label,
                       "questions": len(items), "epochs": summary["epochs"],
                       "stopped": summary["stopped"] or "-",
                       "train_minutes": round(summary["train_seconds"] / 60, 2),
                       "finetune_minutes": round(finetune_minutes, 2),
                       "tokens_per_second": summary["tokens_per_second"],
                       "precision": summary["precision"],
                       "held_out_losses": summary["held_out_losses"],
                       "kinds": AdapterRegistry.of(settings).metadata(adapter)["data"].get(
                           "kinds"), "mc": mc}
                if args.generate:
                    row["answer_hit"] = {**plain_hits, "extractive": extractive_hit,
                                         **answer_hits(items, ("finetuned", "finetuned+rag"),
                                                       ctx)}
                log(json.dumps({k: v for k, v in row.items() if k not in ("mc", "answer_hit")}
                               | {"mc": {m: round(sum(v) / len(v), 3) for m, v in mc.items()}}))
                results.append(row)
    finally:
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print_table(results, settings)
    return 0


def _cell(values: list[float]) -> str:
    from core.evaluation.intervals import format_interval, mean_ci

    return f"{sum(values) / len(values):.2f} {format_interval(mean_ci(values))}"


def _delta(a: list[float], b: list[float], a_name: str, b_name: str) -> str:
    from core.evaluation.intervals import compare

    verdict = compare(a, b, a_name, b_name, "mc")
    low, high = verdict["ci95"]
    mark = "**" if low > 0 or high < 0 else ""
    return f"{mark}{verdict['delta']:+.2f}{mark} [{low:+.2f}, {high:+.2f}]"


def print_table(results: list[dict], settings) -> None:
    print(f"\nKnowledge injection · generator {settings.generator_model} · multiple-choice "
          "accuracy (log-likelihood, length-normalised; extractive: the choice its passage "
          "holds) with 95 % Wilson intervals; differences paired (bootstrap over questions, "
          "bold where the interval excludes 0)")
    print("\n| split | set | settings | n | epochs | stopped | train min | finetune min | "
          "tok/s | base | extractive | RAG | FT | FT+RAG | FT-base | FT+RAG-RAG |")
    print("|" + "---|" * 16)
    for r in results:
        mc = r["mc"]
        print(f"| {r['label']} | {r['set']} | {r['settings']} | {r['questions']} | "
              f"{r['epochs']} | {r['stopped']} | {r['train_minutes']:.1f} | "
              f"{r['finetune_minutes']:.1f} | {r['tokens_per_second']:.0f} | "
              + " | ".join(_cell(mc[m]) for m in ROW_MODES)
              + f" | {_delta(mc['finetuned'], mc['base'], 'finetuned', 'base')} | "
                f"{_delta(mc['finetuned+rag'], mc['rag'], 'finetuned+rag', 'rag')} |")
    if any("answer_hit" in r for r in results):
        print("\nAnswer hit (generated answer, or the extractive passage, contains the gold "
              "answer or an alias):\n")
        print("| split | set | settings | n | " + " | ".join(ROW_MODES)
              + " | FT-base | FT+RAG-RAG |")
        print("|" + "---|" * (len(ROW_MODES) + 6))
        for r in results:
            if "answer_hit" in r:
                hit = r["answer_hit"]
                print(f"| {r['label']} | {r['set']} | {r['settings']} | {r['questions']} | "
                      + " | ".join(_cell(hit[m]) for m in ROW_MODES)
                      + f" | {_delta(hit['finetuned'], hit['base'], 'finetuned', 'base')} | "
                        f"{_delta(hit['finetuned+rag'], hit['rag'], 'finetuned+rag', 'rag')} |")


if __name__ == "__main__":
    raise SystemExit(main())
