"""CLI: ``finetune`` (train a LoRA adapter on a knowledge base) and adapter management.

``finetune --kb NAME --adapter NAME [--minutes M | --epochs E] [--docs a.md,b.txt]
[--data knowledge|chunks|paraphrases|qa]`` prints {"adapter", "train_loss", "seconds",
"epochs", "tokens_per_second", ...}; ``adapters`` lists the registry, ``adapter-show NAME``
prints one adapter's metadata and files, ``adapter-delete NAME`` removes it. Step losses go to
stderr every ``--log-every`` steps so stdout stays one JSON object. The ``learn`` verb of the
``feedback`` noun (``feedback learn --adapter NAME``, KTO/DPO from the ratings) is registered
here too: it trains, and the feedback package imports no trainer.

Example:
    $ python -m core finetune --kb default --adapter harrowmere --minutes 5 --docs faq.md
    {"adapter": "harrowmere", "train_loss": 0.41, "seconds": 318.2, "epochs": 12, ...}
"""

from __future__ import annotations

import argparse
import sys

from core.finetune.config import DATA_MODES, ORDERS, RECIPES, LoraSettings
from core.training.precision import PRECISIONS


def _cmd_finetune(args, settings):
    from core.finetune.pipeline import run_finetune
    from core.training.callbacks import TrainingHooks

    defaults = LoraSettings()
    lora = LoraSettings(
        rank=args.rank, alpha=args.alpha, epochs=args.epochs, learning_rate=args.lr,
        batch_size=args.batch_size, micro_batch_size=args.micro_batch_size,
        max_length=args.max_length, data_mode=args.data,
        paraphrases_per_chunk=args.paraphrases, minutes=args.minutes,
        precision=args.precision, packing=not args.no_packing, recipe=args.recipe,
        order=args.order, context_share=args.context_share,
        target_modules=tuple(m for m in args.target_modules.split(",") if m)
        if args.target_modules else defaults.target_modules)

    def on_step(step: int, total: int, loss: float) -> None:
        if step == 1 or step == total or step % args.log_every == 0:
            print(f"step {step}/{total} loss {loss:.4f}", file=sys.stderr, flush=True)

    documents = {d.strip() for d in args.docs.split(",") if d.strip()} or None
    summary = run_finetune(settings, args.kb, args.adapter, lora, documents=documents,
                           paraphrase_method=args.paraphrase_method, overwrite=args.overwrite,
                           hooks=TrainingHooks(step=on_step))
    print(f"{summary['steps']} steps, {summary['train_tokens']} training tokens, "
          f"{summary['tokens_per_second']} tokens/s", file=sys.stderr)
    loss = summary["train_loss"]
    keys = ("epochs", "planned_epochs", "stopped", "steps", "train_seconds",
            "tokens_per_second", "precision", "held_out_losses")
    return {"adapter": summary["adapter"], "train_loss": round(loss, 4) if loss else loss,
            "seconds": summary["seconds"], **{k: summary[k] for k in keys}}


def _cmd_adapters(args, settings):
    from core.adapters import AdapterRegistry

    return AdapterRegistry.of(settings).list()


def _cmd_adapter_show(args, settings):
    from core.adapters import AdapterRegistry

    return AdapterRegistry.of(settings).inspect(args.name)


def _cmd_adapter_delete(args, settings):
    from core.adapters import AdapterRegistry
    from core.names import suggest_name

    AdapterRegistry.of(settings).delete(args.name)
    return {"adapter": suggest_name(args.name, "adapter"), "deleted": True}


def _cmd_feedback_learn(args, settings):
    from core.cli import stderr_progress
    from core.feedback.store import open_store
    from core.finetune.preference import LearnConfig, learn_from_feedback
    from core.loaders import load_generator
    from core.training.callbacks import TrainingHooks

    config = LearnConfig(adapter=args.adapter, method=args.method, max_steps=args.max_steps)
    store = open_store(settings)
    try:
        # Refuse before loading the model when there is too little feedback.
        from core.finetune.preference import plan_training

        plan_training(store.list_outputs(rated_only=True), store.list_preferences(), config)

        result = learn_from_feedback(store, load_generator(settings), settings, config,
                                     base_adapter=args.base_adapter,
                                     hooks=TrainingHooks(progress=stderr_progress()))
        return result.to_cli()
    finally:
        store.close()


DRILL_FIELDS = ["questions", "minutes", "kb", "qa", "mode", "heldout", "split", "samples",
                "temperature", "top_p", "max_new_tokens", "method", "pairs_per_question", "epochs",
                "learning_rate", "beta", "batch_size", "top_k", "precision", "adapter", "seed"]


def _cmd_feedback_drill(args, settings):
    from core.cli import stderr_progress
    from core.finetune.preference_loop import DrillConfig, run_drill
    from core.training.callbacks import TrainingHooks

    config = DrillConfig(**{f: getattr(args, f) for f in DRILL_FIELDS})

    return run_drill(settings, config, hooks=TrainingHooks(progress=stderr_progress())).to_cli()


def register(sub) -> None:
    from core.cli import add_dataclass_options

    p = sub.add_parser("finetune", help="train a LoRA adapter on a knowledge base")
    p.add_argument("--kb", required=True, help="knowledge base name")
    p.add_argument("--adapter", required=True, help="adapter name ([a-z0-9_-], 1-64 chars)")
    add_dataclass_options(
        p, LoraSettings, ["minutes", "epochs", "data_mode", "paraphrases_per_chunk", "rank",
                          "alpha", "learning_rate", "batch_size", "micro_batch_size",
                          "max_length", "precision", "recipe", "order", "context_share"],
        names={"data_mode": "--data", "paraphrases_per_chunk": "--paraphrases",
               "learning_rate": "--lr"},
        overrides={"data_mode": {"choices": DATA_MODES}, "precision": {"choices": PRECISIONS},
                   "recipe": {"choices": RECIPES}, "order": {"choices": ORDERS}})
    p.add_argument("--docs", default="", help="comma-separated document names of the KB to "
                                              "train on (default: all)")
    p.add_argument("--no-packing", action="store_true",
                   help="one example per row, padded (packing is on by default)")
    p.add_argument("--paraphrase-method", choices=("templates", "generator"),
                   default="templates", help="how paraphrases are made (templates: instant; "
                                             "generator: the model rewords each chunk)")
    p.add_argument("--target-modules", default="", help="comma-separated; empty = per model")
    p.add_argument("--overwrite", action="store_true", help="replace an adapter of that name")
    p.add_argument("--log-every", type=int, default=10, help="print the loss every N steps")
    p.set_defaults(func=_cmd_finetune)

    p = sub.add_parser("adapters", help="list saved LoRA adapters")
    p.set_defaults(func=_cmd_adapters)
    p = sub.add_parser("adapter-show", help="metadata and files of one adapter")
    p.add_argument("name")
    p.set_defaults(func=_cmd_adapter_show)
    p = sub.add_parser("adapter-delete", help="delete a saved adapter")
    p.add_argument("name")
    p.set_defaults(func=_cmd_adapter_delete)

    feedback = sub.choices.get("feedback")  # core.feedback.cli registers first (name order)
    if feedback is not None:
        fsub = next(a for a in feedback._actions if isinstance(a, argparse._SubParsersAction))
        learn = fsub.add_parser("learn", help="train a new LoRA adapter from the ratings (KTO/DPO)")
        learn.add_argument("--adapter", required=True, help="name of the new adapter")
        learn.add_argument("--base-adapter", default=None,
                           help="continue from this adapter in <data_dir>/adapters/ (optional)")
        learn.add_argument("--method", default="auto", choices=["auto", "kto", "dpo"])
        learn.add_argument("--max-steps", type=int, default=10,
                           help="optimizer steps (CPU: ~10-90 s each for SmolLM2-135M)")
        learn.set_defaults(func=_cmd_feedback_learn)
        from core.finetune.preference_loop import DRILL_MODES, METHODS, RULE, DrillConfig

        drill = fsub.add_parser(
            "drill", help="simulate thumbs on the model's own answers, learn from them, "
                          "report before/after on held-out questions",
            description=f"Simulated feedback: {RULE}. Ratings are stored with source = "
                        "simulated. Prints {metric, before, after, delta, delta_ci95, "
                        "seconds, ...}.")
        add_dataclass_options(drill, DrillConfig, DRILL_FIELDS,
                              names={"learning_rate": "--lr"},
                              overrides={"learning_rate": {"dest": "learning_rate"},
                                         "mode": {"choices": DRILL_MODES},
                                         "method": {"choices": METHODS},
                                         "precision": {"choices": PRECISIONS}})
        drill.set_defaults(func=_cmd_feedback_drill)
