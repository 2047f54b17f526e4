"""``python -m core feedback stats|export|ranking|purge|learn|compare|drill``: JSON out.

Simulated ratings (the feedback drill's, ``source = simulated``) are left out of stats,
exports and rankings unless ``--include-simulated`` is given.

Example:
    $ python -m core feedback stats
    {"outputs": 12, "rated": 12, "up": 7, "down": 5, "preferences": 3, "modes": [...]}
    $ python -m core feedback export --format kto --out kto.jsonl
    {"format": "kto", "path": "kto.jsonl", "rows": 12}
    $ python -m core feedback learn --adapter fb-v1
    {"adapter": "fb-v1", "records": 12, "train_loss": 0.49, "seconds": 41.2}
    $ python -m core feedback ranking --by mode
    {"by": "mode", "games": 40, "ratings": [{"name": "rag", "rating": 1071.3,
                                             "ci95": [1012.0, 1130.4], "n": 31}, ...]}
    $ python -m core feedback purge --days 30
    {"cutoff": "2024-03-01T00:00:00+00:00", "outputs": 4, "preferences": 1}
    $ python -m core feedback compare --adapter fb-v1 --limit 8
    {"adapter": "fb-v1", "parent": null, "before": {...}, "after": {...}, "delta": {...}, ...}
"""

from __future__ import annotations

from pathlib import Path


def _stats(args, settings):
    from core.feedback.stats import summary
    from core.feedback.store import open_store

    store = open_store(settings)
    try:
        sim = args.include_simulated
        return summary(store.list_outputs(include_simulated=sim),
                       store.list_preferences(include_simulated=sim))
    finally:
        store.close()


def _export(args, settings):
    from core.feedback.export import write_export
    from core.feedback.store import open_store

    store = open_store(settings)
    try:
        sim = args.include_simulated
        return write_export(args.format, store.list_outputs(include_simulated=sim),
                            store.list_preferences(include_simulated=sim), Path(args.out),
                            include_extractive=args.include_extractive)
    finally:
        store.close()


def _ranking(args, settings):
    from core.feedback.ranking import games_from_feedback, ratings
    from core.feedback.stats import model_label
    from core.feedback.store import open_store

    store = open_store(settings)
    try:
        sim = args.include_simulated
        records = store.list_outputs(include_simulated=sim)
        prefs = store.list_preferences(include_simulated=sim)
    finally:
        store.close()
    key = (lambda r: r.mode) if args.by == "mode" else model_label
    games = games_from_feedback(records, prefs, key, thumbs=not args.no_thumbs)
    return {"by": args.by, "games": len(games),
            "ratings": ratings(games, rounds=args.rounds, seed=args.seed)}


def _purge(args, settings):
    from core.errors import UserError
    from core.feedback.store import SQLFeedbackStore

    days = args.days if args.days is not None else settings.feedback_retention_days
    if args.days is None and not days:
        raise UserError("nothing to purge by: pass --days N or set "
                        "NLPLAB_FEEDBACK_RETENTION_DAYS")
    settings.ensure_data_dir()
    store = SQLFeedbackStore(settings.feedback_url)
    try:
        return store.purge_older_than(days)
    finally:
        store.close()


def _compare(args, settings):
    from core.cli import stderr_progress
    from core.evaluation.versions import compare_versions, default_items

    items = default_items(args.limit or settings.feedback_compare_limit, args.qa,
                          max_bytes=settings.max_upload_mb * 1_000_000)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    return compare_versions(settings, args.adapter, items, modes, kb=args.kb,
                            progress=stderr_progress())


def register(sub) -> None:
    p = sub.add_parser("feedback", help="feedback store: stats, exports, learn an adapter")
    fsub = p.add_subparsers(dest="feedback_command", required=True, metavar="SUBCOMMAND")
    s = fsub.add_parser("stats", help="counts and thumbs-up rates (Wilson 95%% CI) per mode")
    s.add_argument("--include-simulated", action="store_true",
                   help="count the feedback drill's simulated ratings too")
    s.set_defaults(func=_stats)
    e = fsub.add_parser("export", help="write raw records or a KTO/DPO training file")
    e.add_argument("--format", required=True, choices=["csv", "jsonl", "kto", "dpo"])
    e.add_argument("--out", required=True, help="file to write (replaced atomically)")
    e.add_argument("--include-simulated", action="store_true",
                   help="export the feedback drill's simulated ratings too")
    e.add_argument("--include-extractive", action="store_true",
                   help="KTO/DPO: keep ratings of evidence passages (the retrieval-only "
                        "baseline, the extractive fallback), left out by default: they are "
                        "not the model's text")
    e.set_defaults(func=_export)
    r = fsub.add_parser("ranking", help="Bradley-Terry ratings (Elo scale, bootstrap 95%% CI) "
                                        "from pairwise preferences")
    r.add_argument("--by", choices=["mode", "model"], default="mode",
                   help="rank answer modes or models / adapters")
    r.add_argument("--no-thumbs", action="store_true",
                   help="A/B preferences only (default also counts 👍 beating 👎 on a prompt)")
    r.add_argument("--include-simulated", action="store_true",
                   help="count the feedback drill's simulated ratings too")
    r.add_argument("--rounds", type=int, default=1000, help="bootstrap resamples")
    r.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    r.set_defaults(func=_ranking)
    pg = fsub.add_parser("purge", help="delete records older than N days "
                                       "(NLPLAB_FEEDBACK_RETENTION_DAYS)")
    pg.add_argument("--days", type=int, default=None,
                    help="age limit in days (default: NLPLAB_FEEDBACK_RETENTION_DAYS)")
    pg.set_defaults(func=_purge)
    cmp = fsub.add_parser("compare", help="evaluate an adapter next to its previous version "
                                          "(parent adapter, or the base model)")
    cmp.add_argument("--adapter", required=True, help="the new adapter (e.g. from learn)")
    cmp.add_argument("--qa", default=None, help="QA JSONL (default: the built-in set); "
                                                "its test split is used")
    cmp.add_argument("--limit", type=int, default=0,
                     help="first N test questions (0 = NLPLAB_FEEDBACK_COMPARE_LIMIT, 8)")
    cmp.add_argument("--modes", default="finetuned", help="finetuned and/or finetuned+rag")
    cmp.add_argument("--kb", default="default", help="knowledge base for finetuned+rag")
    cmp.set_defaults(func=_compare)
