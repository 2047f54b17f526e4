"""Benchmark: every emotion model on real tweet sets, and preprocessing throughput.

Models (``--part models``, the default): each model is trained exactly as ``emotions train``
does with its defaults (its own stratified 80/20 split, CV and searches inside the training
file) on the TRAIN part of each benchmark set, then scored on that set's untouched TEST part
(macro-F1, accuracy), with the final fit's seconds and the whole run's. Sets, built from
``../shared/data`` (:func:`benchmark_sets`): ``te4`` TweetEval-like (anger/fear/joy/sadness
from ``tweets_clean.txt``, 3,300 train / 1,400 test), ``tc6`` (all six ``tweets_clean``
labels), ``te7`` (``text_emotion.csv`` grouped 13 -> 7); ``--csv-set NAME=TRAIN,TEST`` adds
any set with its own splits (e.g. a public benchmark's train and validation files). The load
average is printed with the numbers: the box is shared, absolute seconds move with it.
Preprocessing (``--part preprocessing``): our pipeline against a naive one doing the same steps
with everything rebuilt per call, same tokens checked.

    .venv/bin/python bench/emotions.py --data ../shared/data/text_emotion.csv \
        --sets te4,tc6 --models logreg,linear_svc,stacking,sentence_logreg   # classical + fast
    .venv/bin/python bench/emotions.py --sets te4 --models transformer     # ~15 min unloaded
    .venv/bin/python bench/emotions.py --sets "" --csv-set tev=train.csv,val.csv \
        --models linear_svc,stacking,transformer --verbose                  # your own splits
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from core.cli import stderr_progress  # noqa: E402
from core.emotions import datasets as ds  # noqa: E402
from core.emotions.config import TEACHERS  # noqa: E402
from core.emotions.preprocess import (  # noqa: E402
    NEG_PREFIX,
    STOPWORDS_FILE,
    PreprocessConfig,
    Preprocessor,
    emoji_to_words,
    hashtags_to_words,
    mark_negation,
    normalise_elongation,
    remove_punctuation,
    remove_urls,
    replace_handles,
    unescape_html,
)
from core.errors import UserError  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "text_emotion.csv"


def naive_tokens(text: str, per_call_lemmatizer: bool = False,
                 data_dir: Path | None = None) -> list[str]:
    """The same steps done the slow way: everything rebuilt per call / per word.

    ``per_call_lemmatizer``: build OUR Lemmatizer (which reads WordNet's POS table, the analogue
    of loading NLTK's tagger model) for every tweet, as the issue's baseline says; otherwise the
    lighter naive: NLTK's WordNetLemmatizer per word and an uncached ``wn.synsets`` POS guess.
    """
    from nltk.corpus import wordnet as wn
    from nltk.stem import WordNetLemmatizer
    from nltk.tokenize import TweetTokenizer

    from core.emotions.lemmatize import Lemmatizer

    text = unescape_html(text[:2000]).lower()
    text = remove_punctuation(emoji_to_words(mark_negation(normalise_elongation(
        hashtags_to_words(replace_handles(remove_urls(text)))))))
    tokens = TweetTokenizer(preserve_case=True, reduce_len=True).tokenize(text)
    kept = []
    for tok in tokens:
        lines = [w.strip() for w in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
                 if w.strip() and not w.startswith("#")]
        stop = [w for w in lines if not w.startswith("!")]          # negations are kept
        if tok.lower().removeprefix(NEG_PREFIX) not in stop:
            kept.append(tok)
    negated = [tok.startswith(NEG_PREFIX) for tok in kept]
    kept = [tok.removeprefix(NEG_PREFIX) for tok in kept]
    if per_call_lemmatizer:
        lemmas = Lemmatizer.create(data_dir).lemmatize(kept)
        return [NEG_PREFIX + w if n else w for w, n in zip(lemmas, negated, strict=True)]
    out = []
    for tok, neg in zip(kept, negated, strict=True):
        lem = WordNetLemmatizer()
        word = tok.lower()
        prefix = NEG_PREFIX if neg else ""
        if not word.isalpha():
            out.append(prefix + tok)
            continue
        pos = None
        for p in ("v", "n", "a"):
            base = wn.morphy(word, p)
            if base is not None and base != word:
                pos = p
                break
        if pos is None:
            syn = wn.synsets(word)
            pos = ("a" if syn[0].pos() == "s" else syn[0].pos()) if syn else "n"
        out.append(prefix + lem.lemmatize(word, pos))
    return out


def bench_preprocessing(texts: list[str], naive_n: int, per_call_n: int,
                        data_dir: Path) -> list[dict]:
    pre = Preprocessor(PreprocessConfig(), data_dir)
    t0 = time.perf_counter()
    fast = [pre.tokens(t) for t in texts]
    rows = [{"name": "ours (built once, cached lemmas)", "n": len(texts),
             "tps": len(texts) / (time.perf_counter() - t0), "same": len(texts)}]
    for name, n, per_call in (
            ("naive: stopwords re-read per word, WordNetLemmatizer + synsets per word",
             naive_n, False),
            ("naive as in the issue: + our lemmatiser built per tweet", per_call_n, True)):
        t0 = time.perf_counter()
        slow = [naive_tokens(t, per_call, data_dir) for t in texts[:n]]
        rows.append({"name": name, "n": n, "tps": n / (time.perf_counter() - t0),
                     "same": sum(a == b for a, b in zip(fast[:n], slow, strict=True))})
    return rows


def _split(data: ds.LabelledData, n_train: int, n_test: int, seed: int = 0
           ) -> tuple[ds.LabelledData, ds.LabelledData]:
    """A stratified sample of n_train + n_test tweets (duplicate texts dropped), split."""
    from sklearn.model_selection import train_test_split

    data = ds.merge([data])
    idx = list(range(len(data.texts)))
    if n_train + n_test < len(idx):
        idx, _ = train_test_split(idx, train_size=n_train + n_test, random_state=seed,
                                  stratify=data.labels)
    tr, te = train_test_split(idx, test_size=n_test, random_state=seed,
                              stratify=[data.labels[i] for i in idx])

    def part(rows):
        return ds.LabelledData([data.texts[i] for i in rows], [data.labels[i] for i in rows])

    return part(tr), part(te)


def benchmark_sets(root: Path, names: list[str], n_train: int, n_test: int, seed: int = 0
                   ) -> dict[str, tuple[ds.LabelledData, ds.LabelledData]]:
    """{name: (train, test)} built from ``../shared/data``; the test part is never trained on.

    - ``te4``: TweetEval-like, 4 classes (anger, fear, joy, sadness) of ``tweets_clean.txt``,
      3,300 train / 1,400 test at the default sizes, like the public 4-class tweet benchmark;
    - ``tc6``: all 6 hashtag-labelled emotions of ``tweets_clean.txt``;
    - ``te7``: ``text_emotion.csv`` grouped 13 -> 7 with the shipped map.
    """
    out = {}
    for name in names:
        if name in ("te4", "tc6"):
            clean = ds.load_tweets_clean(root / "tweets_clean.txt")
            if name == "te4":
                keep = [i for i, lab in enumerate(clean.labels)
                        if lab in ("anger", "fear", "joy", "sadness")]
                clean = ds.LabelledData([clean.texts[i] for i in keep],
                                        [clean.labels[i] for i in keep])
            out[name] = _split(clean, n_train, n_test, seed)
        elif name == "te7":
            raw = ds.load_text_emotion(root / "text_emotion.csv")
            out[name] = _split(ds.apply_groups(raw, ds.load_group_map()), n_train, n_test, seed)
        else:
            raise SystemExit(f"unknown benchmark set {name!r} (te4, tc6, te7)")
    return out


def csv_sets(specs: list[str]) -> dict[str, tuple[ds.LabelledData, ds.LabelledData]]:
    """{name: (train, test)} from ``NAME=TRAIN.csv,TEST.csv`` specs (CSV ``text,label``): any
    set with its own splits, e.g. a public benchmark's train and validation files.

    Example: ``["tev=train.csv,val.csv"]`` -> ``{"tev": (train rows, validation rows)}``.
    """
    out = {}
    for spec in specs:
        name, _, paths = spec.partition("=")
        parts = paths.split(",")
        if not name or len(parts) != 2:
            raise SystemExit(f"--csv-set wants NAME=TRAIN.csv,TEST.csv, got {spec!r}")
        if name in out:
            raise SystemExit(f"--csv-set: the name {name!r} is used twice")
        try:
            out[name] = tuple(ds.labelled(ds.read_csv(Path(f), name=f), name=f) for f in parts)
        except UserError as exc:
            raise SystemExit(f"--csv-set {name}: {exc}") from None
    return out


def set_names(args) -> list[str]:
    """The ``--sets`` names, none for an empty value (``--sets ""`` benches only --csv-set)."""
    return [n for n in args.sets.split(",") if n]


def bench_models(args, data_dir: Path) -> None:
    """Each model trained with the CLI defaults on each set's train part (its own 80/20 split
    and CV inside), then scored on the set's untouched test part."""
    import subprocess

    from core.emotions.config import ENCODER_MODELS
    from core.emotions.training import TrainConfig, evaluate, train
    from core.settings import load_settings

    settings = load_settings()
    names, extra = set_names(args), csv_sets(args.csv_set)
    if clash := set(extra) & set(names):
        raise SystemExit(f"--csv-set reuses the name of a built-in set: {', '.join(clash)}")
    sets = benchmark_sets(args.data.parent, names, args.n_train, args.n_test,
                          args.split_seed) | extra
    if not sets:
        raise SystemExit("no set to bench: name one with --sets or --csv-set")
    load = os.getloadavg()[0]
    print(f"# split seed {args.split_seed}; load average at start: {load:.1f}; commit "
          + subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
          + ("; no refit: each score is the model trained on its 80% part, so compare it "
             "only with other --no-refit runs" if args.no_refit else ""))
    print("| set | classes | train/test | model | test macro-F1 | accuracy | CV macro-F1 | "
          "train s (first fit) | wall s (all) |\n|---|---:|---|---|---:|---:|---:|---:|---:|",
          flush=True)
    runs = [(m, emoji) for m in args.models.split(",") for emoji in
            ((True,) if m in ENCODER_MODELS or args.emoji == "on" else
             (False,) if args.emoji == "off" else (False, True))]
    for set_name, (tr, te) in sets.items():
        for model, emoji in runs:
            cfg = TrainConfig(model=model, name="bench", refit=not args.no_refit,
                              emoji_features=emoji,
                              **({"epochs": args.epochs} if args.epochs else {}),
                              **({"ensemble_size": args.ensemble_size}
                                 if args.ensemble_size else {}),
                              **({"distill": args.distill} if args.distill is not None else {}),
                              **({"teacher": args.teacher} if args.teacher else {}))
            tcfg = None
            if model == "transformer" and (args.pooling or args.learning_rate or args.no_probe
                                           or args.layer_decay):
                from core.emotions.transformer import TransformerConfig

                base_cfg = TransformerConfig(epochs=cfg.epochs)
                tcfg = TransformerConfig(
                    epochs=cfg.epochs, ensemble_size=cfg.ensemble_size, distill=cfg.distill,
                    pooling=args.pooling or base_cfg.pooling,
                    learning_rate=args.learning_rate or base_cfg.learning_rate,
                    probe_init=not args.no_probe,
                    layer_decay=args.layer_decay or base_cfg.layer_decay)
            t0 = time.perf_counter()
            r = train(tr, cfg, data_dir, save=False, settings=settings, transformer=tcfg,
                      progress=stderr_progress(60) if args.verbose else None)
            wall = time.perf_counter() - t0
            m = evaluate(r.model, te)
            print(f"| {set_name} | {len(set(tr.labels))} | {len(tr.texts)}/{len(te.texts)} | "
                  f"{model}{'' if emoji else ' (no emoji)'} | {m['macro_f1']:.3f} | "
                  f"{m['accuracy']:.3f} | "
                  f"{r.cv.get('macro_f1_mean')} | {r.seconds:.1f} | {wall:.1f} |"
                  + (f" {_transformer_note(r.model.info)}" if model == "transformer" else "")
                  + _members_note(r.model, te) + _copies_note(r.model, te), flush=True)
    print(f"# load average at end: {os.getloadavg()[0]:.1f}")


def _members_note(model, test) -> str:
    """For an averaged model: each member's own test macro-F1 (the same run, the same rows)."""
    from core.emotions.models_store import HYBRIDS
    from core.emotions.training import evaluate

    if model.kind not in HYBRIDS:
        return ""
    return " members: " + ", ".join(
        f"{m.kind} {evaluate(m, test)['macro_f1']:.3f}" for m in model.head.members)


def _copies_note(model, test) -> str:
    """For a transformer ensemble: each fine-tuned copy's own test macro-F1 (same rows)."""
    from core.emotions.training import evaluate
    from core.emotions.transformer import TransformerHead

    head = model.head
    if len(getattr(head, "networks", [])) < 2:
        return ""
    scores = [evaluate(replace(model, head=TransformerHead(net, head.tokenizer,
                                                           head.max_length)), test)["macro_f1"]
              for net in head.networks]
    return " copies alone: " + ", ".join(f"{v:.3f}" for v in scores)


def _transformer_note(info: dict) -> str:
    sel = info.get("selection", info)
    return (f"pooling {info.get('pooling')}, lr {info.get('learning_rate')}, layer decay "
            f"{info.get('layer_decay', 1.0)}, best epoch "
            f"{sel.get('best_epoch')}/{sel.get('epochs_run')} (val macro-F1 "
            f"{sel.get('best_val_macro_f1')}), refit {info.get('refit_seconds', 0):.0f} s"
            + _distill_note(info.get("distill") or {}))


def _distill_note(d: dict) -> str:
    if not d.get("used"):
        return ", no distillation"
    return (f", distilled (weight {d['weight']}) from {d.get('teacher')} {d.get('params')}, "
            f"teacher out-of-fold macro-F1 {d.get('teacher_oof_macro_f1')} "
            f"({d.get('seconds')} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("models", "preprocessing", "all"), default="models")
    ap.add_argument("--sets", default="te4,tc6,te7",
                    help="te4 (TweetEval-like 4 classes), tc6 (tweets_clean 6), te7 "
                         "(text_emotion grouped 7)")
    ap.add_argument("--csv-set", action="append", default=[], metavar="NAME=TRAIN,TEST",
                    help="also bench a set with its own splits: two CSV files (text,label), "
                         "e.g. a public benchmark's train and validation files; repeatable")
    ap.add_argument("--n-train", type=int, default=3300)
    ap.add_argument("--n-test", type=int, default=1400)
    ap.add_argument("--split-seed", type=int, default=0,
                    help="which train/test draw of each set (0: the one in docs/emotions.md)")
    ap.add_argument("--models", default="logreg,linear_svc,stacking,random_forest,"
                                        "sentence_logreg,transformer")
    ap.add_argument("--epochs", type=int, default=0, help="transformer epochs (0: default)")
    ap.add_argument("--pooling", choices=("mean", "cls"), help="transformer head (default cls)")
    ap.add_argument("--learning-rate", type=float, default=0.0, help="transformer (0: default)")
    ap.add_argument("--layer-decay", type=float, default=0.0,
                    help="transformer: layer-wise learning-rate decay (0: default)")
    ap.add_argument("--no-probe", action="store_true", help="transformer: random head start")
    ap.add_argument("--ensemble-size", type=int, default=0,
                    help="transformer: fine-tuned copies averaged (0: default)")
    ap.add_argument("--distill", type=float, default=None,
                    help="transformer: weight of the TF-IDF teacher's soft targets (0: off; "
                         "default: the CLI's)")
    ap.add_argument("--teacher", choices=TEACHERS,
                    help="transformer: the distillation teacher (default: the CLI's)")
    ap.add_argument("--emoji", choices=("on", "off", "both"), default="on",
                    help="TF-IDF models: with the emoji-predictor features (the default), "
                         "without, or both in the same run")
    ap.add_argument("--no-refit", action="store_true",
                    help="score the model trained on the 80%% split (no refit on every row)")
    ap.add_argument("--verbose", action="store_true", help="progress with ETA on stderr")
    ap.add_argument("--n", type=int, default=2000, help="preprocessing: subsample size")
    ap.add_argument("--naive-n", type=int, default=150, help="tweets for the naive pipeline")
    ap.add_argument("--per-call-n", type=int, default=10,
                    help="tweets for the naive pipeline that builds a lemmatiser per tweet")
    ap.add_argument("--data", type=Path, default=DATA, help="path of text_emotion.csv")
    ap.add_argument("--write-sets", type=Path, metavar="DIR",
                    help="write each set as DIR/<set>_train.csv and _test.csv (text,label), "
                         "for `emotions train/evaluate`, and stop")
    args = ap.parse_args()
    if set_names(args) and not args.data.is_file():
        sys.exit(f"benchmark data not found: {args.data} (only on the team's machines)")
    if args.write_sets:
        args.write_sets.mkdir(parents=True, exist_ok=True)
        for name, parts in benchmark_sets(args.data.parent, set_names(args), args.n_train,
                                          args.n_test, args.split_seed).items():
            for part, data in zip(("train", "test"), parts, strict=True):
                data.frame().to_csv(args.write_sets / f"{name}_{part}.csv", index=False)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="emo-bench-"))
    if args.part in ("preprocessing", "all"):
        bench_preprocessing_table(args)
    if args.part in ("models", "all"):
        bench_models(args, data_dir)


def bench_preprocessing_table(args) -> None:
    from sklearn.model_selection import train_test_split

    from core.settings import load_settings

    data = ds.load_text_emotion(args.data)
    idx, _ = train_test_split(list(range(len(data.texts))), train_size=args.n, random_state=0,
                              stratify=data.labels)
    texts = [data.texts[i] for i in idx]
    print(f"# text_emotion.csv: {len(texts)} tweets\n")
    prep = bench_preprocessing(texts, args.naive_n, args.per_call_n, load_settings().data_dir)
    print("| pipeline | tweets | tweets/s | ours is | same tokens |\n|---|---:|---:|---:|---:|")
    for r in prep:
        print(f"| {r['name']} | {r['n']} | {r['tps']:,.1f} | {prep[0]['tps'] / r['tps']:,.0f}x "
              f"| {r['same']}/{r['n']} |")
    print(flush=True)


if __name__ == "__main__":
    main()
