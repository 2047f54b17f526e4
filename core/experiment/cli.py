"""CLI: ``experiment`` (questions from a knowledge base's documents, fine-tune, evaluate every
mode, cost, freshness, verdict, report) and ``experiment-questions`` (the derived questions
alone, to review and edit before a run).

``experiment --kb NAME [--minutes M] [--max-questions N] [--questions FILE.jsonl]
[--adapter NAME] [--report out.html] [--no-freshness] [--fresh-question ID]
[--fresh-value V]`` prints exactly {"questions", "modes", "comparisons", "costs",
"freshness", "verdict", "report"}: the questions asked (n, items),
every mode's scores with 95 % intervals and new-only scores, the paired verdicts, the cost
table (training, adapter, serving memory at fp16/int8/int4, p50/p95 latency, tokens per
answer), the freshness result, the verdict in words and the report's id, settings,
provenance and HTML path. ``--questions`` takes a reviewed file (the JSONL that
``experiment-questions --out FILE`` writes, edited: rows removed or changed). Progress goes to
stderr.

Example:
    $ python -m core kb index --docs bench/data/kbs/valley-railway/docs --kb valley
    $ python -m core experiment --kb valley --report valley.html
    {"questions": {"n": 24, ...}, "modes": {"base": {...}, ...}, ..., "report": {...}}
"""

from __future__ import annotations

import json


def _config(args):
    from core.experiment.config import ExperimentConfig

    return ExperimentConfig(kb=args.kb, minutes=args.minutes, max_questions=args.max_questions,
                            adapter=args.adapter, top_k=args.top_k, search=args.search,
                            freshness=not args.no_freshness,
                            fresh_question=args.fresh_question, fresh_value=args.fresh_value)


def _cmd_experiment(args, settings):
    from core.cli import stderr_progress
    from core.experiment.run import run_experiment
    from core.qa import load_qa_file

    config = _config(args)
    items = None
    if args.questions:
        items = load_qa_file(args.questions, max_bytes=settings.max_upload_mb * 1_000_000)
    if args.report:
        from core.experiment.run import check_report_path

        check_report_path(args.report)  # before minutes of work, not after
    return run_experiment(settings, config, items=items,
                          progress=None if args.quiet else stderr_progress(15),
                          report_path=args.report or None)


def _cmd_experiment_questions(args, settings):
    from core.errors import UserError
    from core.experiment.questions import rows
    from core.experiment.run import questions_for

    if args.max_questions < 1 or args.max_questions > 500:
        raise UserError(f"max_questions must be 1..500, got {args.max_questions}")
    items = questions_for(settings, args.kb, args.max_questions)
    if args.out:
        from core.atomic import write_text_atomic

        write_text_atomic(args.out, "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                            for r in rows(items)))
    return {"n": len(items), "out": args.out or None, "items": rows(items)}


def register(sub) -> None:
    from core.cli import add_dataclass_options
    from core.experiment.config import SEARCHES, ExperimentConfig

    p = sub.add_parser("experiment", help="RAG vs fine-tuning on your own documents: derived "
                                          "questions, every mode, cost, freshness, report")
    add_dataclass_options(p, ExperimentConfig, ["kb", "minutes", "max_questions", "adapter",
                                                "top_k", "search", "fresh_question",
                                                "fresh_value"],
                          overrides={"search": {"choices": SEARCHES}})
    p.add_argument("--questions", default="", help="reviewed questions (JSONL, as "
                                                   "experiment-questions --out writes them)")
    p.add_argument("--report", default="", help="write the HTML report here (.html)")
    p.add_argument("--no-freshness", action="store_true", help="skip the freshness test")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_experiment)
    p = sub.add_parser("experiment-questions", help="the questions an experiment would ask, "
                                                    "to review and edit")
    p.add_argument("--kb", required=True, help="knowledge base name")
    p.add_argument("--max-questions", type=int, default=24, help="at most this many")
    p.add_argument("--out", default="", help="also write them as JSONL to this file")
    p.set_defaults(func=_cmd_experiment_questions)
