"""CLI: ``evaluate`` a QA file over answer modes, and list saved evaluation runs.

``evaluate --qa FILE --kb NAME [--adapter NAME]
[--modes base,extractive,rag,finetuned,finetuned+rag]`` prints {"n", "modes": {MODE:
{"exact_match", "answer_hit", "f1", "mc_accuracy", "hit_rate", "mrr", "seconds_per_question",
"extractive_rate", "ci95": {METRIC: [lo, hi]}, "new_only": {"n", METRIC..., "ci95"} | null,
...}}, "comparisons": [{"a", "b", "metric", "n", "delta", "ci95", "verdict"}, ...],
"provenance", "run_id"}; scores are fractions in [0, 1], or null when a metric does not apply
(e.g. hit_rate for a mode that does not retrieve; the reason is in "unavailable"). With
``--extractive-fallback`` each retrieving model mode also gets a row "MODE+fallback" in
"modes": the scores of what was shown (the model's own text stays MODE's score). Only the
``--split`` (default test) questions are used. Progress goes to stderr.

Example:
    $ python -m core evaluate --qa assets/knowledge/default_qa.jsonl --kb default --limit 10
    {"n": 10, "modes": {"base": {"exact_match": 0.0, ...}, "rag": {...}}, "run_id": "..."}
"""

from __future__ import annotations


def _cmd_evaluate(args, settings):
    from core.answering import ALL_MODES, MODES, make_context
    from core.cli import stderr_progress
    from core.errors import UserError
    from core.evaluation.runner import evaluate, save_run
    from core.qa import load_qa_file, select_split

    modes = [m.strip() for m in args.modes.split(",") if m.strip()] if args.modes else [
        m for m in ALL_MODES if args.adapter or not MODES[m].needs_adapter]
    modes = list(dict.fromkeys(modes))
    items = load_qa_file(args.qa, max_bytes=settings.max_upload_mb * 1_000_000)
    items = select_split(items, None if args.split == "all" else args.split)
    if not items:
        raise UserError(f"{args.qa} has no {args.split}-split questions")
    documents = {d.strip() for d in args.docs.split(",") if d.strip()}
    if documents:
        items = [i for i in items if i.source in documents]
        if not items:
            raise UserError(f"no {args.split}-split question of {args.qa} has its source among "
                            f"{', '.join(sorted(documents))}")
    items = items[: args.limit] if args.limit else items
    ctx = make_context(settings, args.kb, adapter=args.adapter or "", modes=modes,
                       top_k=args.top_k, search=args.search, evidence=args.evidence,
                       extractive_fallback=args.extractive_fallback, reader=args.reader)
    embedder = ctx.store.embedder if ctx.store is not None else None
    if embedder is None:
        from core.loaders import load_embedder

        embedder = load_embedder(settings)

    run = evaluate(items, modes, ctx, embedder,
                   progress=stderr_progress() if not args.quiet else None,
                   meta={"kb": args.kb, "adapter": args.adapter, "qa_file": str(args.qa),
                         "split": args.split, "generator": settings.generator_model,
                         "embedder": settings.embedding_model, "top_k": args.top_k,
                         "search": args.search, "evidence": args.evidence,
                         "extractive_fallback": args.extractive_fallback,
                         "reader": args.reader})
    save_run(settings, run)
    return {"n": run["n"], "modes": {**run["aggregates"], **run["fallback_aggregates"]},
            "comparisons": run["comparisons"], "provenance": run["provenance"],
            "run_id": run["id"]}


def _cmd_eval_runs(args, settings):
    from core.evaluation.runner import list_runs

    return list_runs(settings)


def register(sub) -> None:
    from core.cli import add_dataclass_options
    from core.qa import SPLITS
    from core.rag.cli import add_reader_options
    from core.rag.config import SEARCH_MODES, RetrievalConfig

    p = sub.add_parser("evaluate", help="evaluate answer modes over a QA JSONL file")
    p.add_argument("--qa", required=True, help="JSONL: question, answer, aliases, choices, "
                                                "source, split")
    p.add_argument("--kb", required=True, help="knowledge base name")
    p.add_argument("--adapter", default="", help="adapter for the fine-tuned modes")
    p.add_argument("--modes", default="", help="comma-separated: base,extractive,rag,"
                                               "finetuned,finetuned+rag (default: base, "
                                               "extractive, rag and the fine-tuned ones when "
                                               "--adapter is given)")
    p.add_argument("--split", choices=(*SPLITS, "all"), default="test",
                   help="which questions: choose settings on dev, report test once")
    p.add_argument("--limit", type=int, default=0, help="first N questions only (0 = all)")
    p.add_argument("--docs", default="", help="comma-separated documents: keep only questions "
                                              "whose source is one of them (e.g. the documents "
                                              "an adapter was trained on)")
    add_dataclass_options(p, RetrievalConfig, ["top_k", "search"],
                          overrides={"search": {"choices": SEARCH_MODES}})
    add_reader_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser("eval-runs", help="list saved evaluation runs")
    p.set_defaults(func=_cmd_eval_runs)
