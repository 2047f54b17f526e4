"""`python -m core emotions ...`: preprocess, train, evaluate, classify (JSON out).

- ``preprocess TEXT [--no-emoji]`` -> ``{"steps": [{"name", "text", "tokens"}],
  "predicted_emoji": [{"emoji", "probability"}]}`` (the emoji predictor's top 5)
- ``train --data F.csv [--text-col C] [--label-col C] --model M --name N [--group-map F.json]
  [--oversample] [--epochs E] [--ensemble-size N] [--distill A] [--teacher T] [--no-refit]
  [--no-emoji-features]`` ->
  ``{"name", "labels", "cv", "seconds"}``; progress (``[ 31%] 4:10 ensemble member 1/2: epoch 2/6,
  ..., ETA 4:41``) goes to stderr at each stage and every ``PROGRESS_EVERY`` s within one
- ``evaluate --name N --data F.csv`` -> ``{"accuracy", "macro_f1", "weighted_f1", "per_class"}``
- ``classify --name N TEXT...`` -> ``[{"text", "label", "scores"}]``
Heavy imports stay inside the handlers.
"""

from __future__ import annotations

from core.emotions.config import MODELS, TEACHERS, TrainConfig

#: Seconds between progress lines on stderr while training (the transformer reports every step).
PROGRESS_EVERY = 15.0


def _data(args, settings):
    from core.emotions.datasets import labelled, read_csv

    df = read_csv(args.data, max_mb=settings.max_upload_mb, name=str(args.data))
    return labelled(df, args.text_col, args.label_col, name=str(args.data))


def _cmd_preprocess(args, settings):
    from core.emotions.preprocess import PreprocessConfig, Preprocessor
    from core.errors import UserError

    if not args.text.strip():
        raise UserError("the tweet is empty: type some text to preprocess")
    config = PreprocessConfig(keep_negations=not args.drop_negations,
                              lemmatize=not args.no_lemmatize)
    out = Preprocessor(config, settings.data_dir).trace(args.text).to_dict()
    if not args.no_emoji:
        from core.emotions.emoji_signal import load_emoji_predictor

        top = load_emoji_predictor(settings.emoji_model).top(args.text, 5)
        out["predicted_emoji"] = [{"emoji": e, "probability": p} for e, p in top]
    return out


def _cmd_train(args, settings):
    from core.cli import stderr_progress
    from core.emotions.datasets import load_group_map
    from core.emotions.training import train

    group_map = load_group_map(args.group_map) if args.group_map else None
    config = TrainConfig(model=args.model, name=args.name, oversample=args.oversample,
                         epochs=args.epochs, ensemble_size=args.ensemble_size,
                         distill=args.distill, teacher=args.teacher,
                         cv_folds=args.cv_folds, seed=args.seed,
                         group_map=group_map, refit=not args.no_refit,
                         emoji_features=not args.no_emoji_features)
    return train(_data(args, settings), config, settings.data_dir, settings=settings,
                 progress=stderr_progress(PROGRESS_EVERY)).summary()


def _cmd_evaluate(args, settings):
    from core.emotions.models_store import load_model
    from core.emotions.training import evaluate

    model = load_model(args.name, settings.data_dir)
    data = _data(args, settings)
    group_map = model.info.get("group_map")
    if group_map:
        from core.emotions.datasets import apply_groups

        data = apply_groups(data, group_map)
    out = evaluate(model, data)
    return {k: out[k] for k in ("accuracy", "macro_f1", "weighted_f1", "per_class")}


def _cmd_classify(args, settings):
    from core.emotions.models_store import load_model

    return load_model(args.name, settings.data_dir).classify(args.texts)


def register(sub) -> None:
    from core.cli import add_dataclass_options

    p = sub.add_parser("emotions", help="tweet emotions: preprocess, train, evaluate, classify")
    cmds = p.add_subparsers(dest="emotions_command", required=True, metavar="SUBCOMMAND")

    c = cmds.add_parser("preprocess", help="show every preprocessing step for one tweet")
    c.add_argument("text")
    c.add_argument("--drop-negations", action="store_true", help="remove not/no/never too")
    c.add_argument("--no-lemmatize", action="store_true")
    c.add_argument("--no-emoji", action="store_true",
                   help="skip the emoji predictor's top 5 (the TF-IDF models' emoji features)")
    c.set_defaults(func=_cmd_preprocess)

    for name in ("train", "evaluate"):
        c = cmds.add_parser(name, help=f"{name} an emotion model on a CSV")
        c.add_argument("--data", required=True, help="CSV file (UTF-8)")
        c.add_argument("--text-col", default="text")
        c.add_argument("--label-col", default="label")
        add_dataclass_options(c, TrainConfig, ["name"])
        if name == "train":
            add_dataclass_options(c, TrainConfig, ["model"],
                                  overrides={"model": {"choices": MODELS}})
            c.add_argument("--group-map", help="JSON {label: group} applied before training")
            add_dataclass_options(c, TrainConfig, ["oversample", "epochs", "ensemble_size",
                                                   "distill", "teacher", "cv_folds", "seed"],
                                  overrides={"teacher": {"choices": TEACHERS}})
            c.add_argument("--no-refit", action="store_true",
                           help="save the model trained without the held-out split instead of "
                                "refitting it on every row")
            c.add_argument("--no-emoji-features", action="store_true",
                           help="TF-IDF models without the 151 emoji-predictor features")
            c.set_defaults(func=_cmd_train)
        else:
            c.set_defaults(func=_cmd_evaluate)

    c = cmds.add_parser("classify", help="classify tweets with a trained model")
    c.add_argument("--name", required=True)
    c.add_argument("texts", nargs="+", metavar="TEXT")
    c.set_defaults(func=_cmd_classify)
