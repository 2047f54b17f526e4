"""Benchmark: tweet preprocessing throughput and every emotion model on real tweets.

Data: ``../shared/data/text_emotion.csv`` (40,000 tweets, 13 noisy labels). By default a
stratified subsample (``--n``, 2000) so the run takes minutes on a busy 2-core machine;
``--full`` uses all 40k. Part 1 times our pipeline (tokenizer, stopword set and lemmatiser
built once, lemmas cached) against a naive one measured in the same run (stopword list rebuilt
from the file and scanned per word, a new WordNetLemmatizer and TweetTokenizer per call, POS
guessed without a cache) and checks both give the same tokens. Part 2 trains each model with
and without the 13->7 emotion grouping and with and without oversampling (held-out 20% test
split; macro-F1, accuracy, training time of the final fit). The transformer runs on its own
smaller subsample (``--transformer-n``) for ``--epochs`` epochs, once (7 groups, class
weights) unless ``--transformer-grid``.

    .venv/bin/python bench/emotions.py            # default, a few minutes
    .venv/bin/python bench/emotions.py --full     # all 40k tweets (long)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

from core.emotions import datasets as ds  # noqa: E402
from core.emotions.preprocess import (  # noqa: E402
    STOPWORDS_FILE,
    PreprocessConfig,
    Preprocessor,
    emoji_to_words,
    hashtags_to_words,
    remove_punctuation,
    remove_urls,
    replace_handles,
    unescape_html,
)

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
    text = remove_punctuation(emoji_to_words(hashtags_to_words(replace_handles(
        remove_urls(text)))))
    tokens = TweetTokenizer(preserve_case=True, reduce_len=True).tokenize(text)
    kept = []
    for tok in tokens:
        lines = [w.strip() for w in STOPWORDS_FILE.read_text(encoding="utf-8").splitlines()
                 if w.strip() and not w.startswith("#")]
        stop = [w for w in lines if not w.startswith("!")]          # negations are kept
        if tok.lower() not in stop:
            kept.append(tok)
    if per_call_lemmatizer:
        return Lemmatizer.create(data_dir).lemmatize(kept)
    out = []
    for tok in kept:
        lem = WordNetLemmatizer()
        word = tok.lower()
        if not word.isalpha():
            out.append(tok)
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
        out.append(lem.lemmatize(word, pos))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000, help="stratified subsample size")
    ap.add_argument("--full", action="store_true", help="use all 40,000 tweets")
    ap.add_argument("--naive-n", type=int, default=150, help="tweets for the naive pipeline")
    ap.add_argument("--per-call-n", type=int, default=10,
                    help="tweets for the naive pipeline that builds a lemmatiser per tweet")
    ap.add_argument("--models", default="logreg,random_forest,linear_svc,stacking,transformer")
    ap.add_argument("--transformer-n", type=int, default=800)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--transformer-grid", action="store_true",
                    help="all four grouping x oversampling runs for the transformer (default: "
                         "7 groups with class weights only; each run is minutes on 2 cores)")
    ap.add_argument("--data", type=Path, default=DATA, help="path of text_emotion.csv")
    args = ap.parse_args()
    if not args.data.is_file():
        sys.exit(f"benchmark data not found: {args.data} (only on the team's machines)")
    from sklearn.model_selection import train_test_split

    from core.emotions.training import TrainConfig, train

    data = ds.load_text_emotion(args.data)

    def subsample(n: int) -> ds.LabelledData:
        if n >= len(data.texts):
            return data
        idx, _ = train_test_split(list(range(len(data.texts))), train_size=n, random_state=0,
                                  stratify=data.labels)
        return ds.LabelledData([data.texts[i] for i in idx], [data.labels[i] for i in idx])

    sub = subsample(len(data.texts) if args.full else args.n)
    print(f"# text_emotion.csv: {len(sub.texts)} tweets, {len(set(sub.labels))} labels\n")
    from core.settings import load_settings

    prep = bench_preprocessing(sub.texts, args.naive_n, args.per_call_n,
                               load_settings().data_dir)
    print("| pipeline | tweets | tweets/s | ours is | same tokens |\n|---|---:|---:|---:|---:|")
    for r in prep:
        print(f"| {r['name']} | {r['n']} | {r['tps']:,.1f} | {prep[0]['tps'] / r['tps']:,.0f}x "
              f"| {r['same']}/{r['n']} |")
    print(flush=True)

    group_map = ds.load_group_map()
    tsub = subsample(args.transformer_n)
    rows = []
    data_dir = Path(tempfile.mkdtemp(prefix="emo-bench-"))
    print("| model | labels | oversample | rows | macro-F1 | accuracy | CV macro-F1 | "
          "train s |\n|---|---|---|---:|---:|---:|---:|---:|", flush=True)
    for model in args.models.split(","):
        for grouped in (False, True):
            for over in (False, True):
                if model == "transformer" and not args.transformer_grid and (
                        not grouped or over):
                    continue
                d = tsub if model == "transformer" else sub
                cfg = TrainConfig(model=model, name="bench", oversample=over, epochs=args.epochs,
                                  group_map=group_map if grouped else None)
                r = train(d, cfg, data_dir, save=False)
                cv = r.cv.get("macro_f1_mean")
                row = (f"| {model} | {'7 groups' if grouped else '13 raw'} | "
                       f"{'yes' if over else 'no'} | {len(d.texts)} | {r.test['macro_f1']:.3f} | "
                       f"{r.test['accuracy']:.3f} | {cv if cv is not None else '-'} | "
                       f"{r.seconds:.1f} |")
                rows.append(row)
                print(row, flush=True)


if __name__ == "__main__":
    main()
