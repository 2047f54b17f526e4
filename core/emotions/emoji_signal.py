"""Emoji-prediction features: which emoji would this tweet carry? (``emoji_features``).

DeepMoji (Felbo et al., 2017, "Using millions of emoji occurrences to learn any-domain
representations for detecting sentiment, emotion and sarcasm") showed that a model trained
only to predict the emoji of social-media posts learns emotion that transfers to emotion
classifiers trained on few labelled tweets. We use the offline emoji predictor of the
``nade`` package (MIT, 13 MB): a fastText classifier over 151 emoji, trained one-vs-all on
250,000 social-media posts, so each emoji gets its own probability. A tweet's 151
probabilities are square-rooted (rows then have an L2 norm near 1, like each TF-IDF block,
and weak emoji are not drowned by the top one) and appended to its TF-IDF row; the linear
head learns how the emoji map to the user's emotions. The predictor is frozen, never
trained here, and saw no emotion labels of ours. We call fastText on the package's ``.ftz``
directly instead of ``nade.Nade``, which would also load eight LightGBM regressors we do
not use. The text goes through nade's own preprocessing (punctuation split off, spaces
collapsed, lowercase), so the model sees text shaped like its training posts.

Example:
    >>> sig = load_emoji_predictor("builtin:nade-emoji")   # doctest: +SKIP
    >>> [e for e, _ in sig.top("RIP grandpa, I miss you", 3)]   # doctest: +SKIP
    ['💔', '😢', '😞']
    >>> sig.transform(["a tweet"]).shape                   # doctest: +SKIP
    (1, 151)
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
from scipy import sparse

from core.errors import UserError
from core.settings import BUILTIN_EMOJI

PACKAGE = "nade"
MODEL_DIR = "data/socialmedia_en"
MODEL_FILE = "nade_250k_hp.ftz"
BUILTIN = BUILTIN_EMOJI
#: Next to a model file, optional: one JSON object per line with the label's "hash" (the
#: number in ``__label__<n>``) and its "emoji" (nade's format); else labels name themselves.
EMOJI_INDEX = "emoji_frequencies.jsonl"
INSTALL_HINT = "pip install fasttext-numpy2==0.10.4 && pip install --no-deps nade==0.3.1"


def _package_dir() -> Path:
    from core.model_sources import BUILTINS, package_folder

    builtin = BUILTINS[BUILTIN.removeprefix("builtin:")]
    try:
        return package_folder(builtin.module, builtin.package) / MODEL_DIR
    except UserError as err:
        raise UserError(f"emoji-prediction features need the {PACKAGE!r} package's emoji model "
                        f"({INSTALL_HINT}); or train with emoji features off") from err


def model_file(spec: str) -> Path:
    """``builtin:nade-emoji`` -> the package's ``.ftz``; else a fastText ``.ftz``/``.bin`` file.

    >>> model_file("/no/such.ftz")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    core.errors.UserError: emoji model '/no/such.ftz' not found: NLPLAB_EMOJI_MODEL takes ...
    """
    spec = spec.strip()
    if spec == BUILTIN:
        return _package_dir() / MODEL_FILE
    path = Path(spec).expanduser()
    if path.suffix not in (".ftz", ".bin") or not path.is_file():
        raise UserError(f"emoji model {spec!r} not found: NLPLAB_EMOJI_MODEL takes {BUILTIN} "
                        "or a fastText .ftz/.bin file")
    return path


def nade_preprocess(texts: list[str]) -> list[str]:
    """nade's preprocessing (pyarrow's RE2, like nade): punctuation runs split off with
    spaces, whitespace (newlines too: fastText reads one line) collapsed, lowercase.

    >>> nade_preprocess(["Wow!!This &amp; that\\nOK"])
    ['wow !! this & that ok']
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array([html.unescape(t) for t in texts], type=pa.string())
    arr = pc.replace_substring_regex(arr, r"\s*([\p{P}]+)\s*", r" \1 ")
    arr = pc.replace_substring_regex(arr, r"\s+", " ")
    return pc.utf8_trim_whitespace(pc.utf8_lower(arr)).to_pylist()


class EmojiSignal:
    """The frozen fastText emoji predictor: texts -> (n, 151) features, label order fixed."""

    def __init__(self, spec: str = BUILTIN):
        import fasttext

        path = model_file(spec)
        fasttext.FastText.eprint = lambda *_: None     # its load warning goes to stderr
        try:
            self.model = fasttext.load_model(str(path))
        except ValueError as err:
            raise UserError(f"emoji model {spec!r} is not a fastText model: {err}") from err
        self.spec, self.file = spec.strip(), path.name
        names = {}
        if (path.parent / EMOJI_INDEX).is_file():
            for line in (path.parent / EMOJI_INDEX).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                names[f"__label__{row['hash']}"] = row["emoji"]
        self.labels = sorted(self.model.get_labels(), key=_label_order)
        self.index = {lab: i for i, lab in enumerate(self.labels)}
        self.emoji = [names.get(lab, lab.removeprefix("__label__")) for lab in self.labels]

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(n, 151) emoji probabilities (one-vs-all: each in [0, 1], rows need not sum to 1)."""
        out = np.zeros((len(texts), len(self.labels)))
        if not texts:
            return out
        labs, probs = self.model.predict(nade_preprocess(list(texts)), k=len(self.labels))
        for r, (row_labels, row_probs) in enumerate(zip(labs, probs, strict=True)):
            out[r, [self.index[lab] for lab in row_labels]] = row_probs
        return out

    def transform(self, texts: list[str]) -> np.ndarray:
        """sqrt of the probabilities (row norms near 1): the block appended to TF-IDF."""
        return np.sqrt(np.clip(self.probabilities(texts), 0.0, None))

    def top(self, text: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable emoji for one tweet: [(emoji, probability)]."""
        p = self.probabilities([text])[0]
        return [(self.emoji[i], round(float(p[i]), 3)) for i in np.argsort(-p)[:k]]

    def describe(self) -> dict:
        """What a saved model records, checked when it is loaded again."""
        return {"spec": self.spec, "file": self.file, "labels": self.labels}

    def check(self, saved: dict) -> None:
        if saved.get("labels") != self.labels:
            raise UserError("this model was trained with a different emoji predictor "
                            f"({saved.get('spec')}, {saved.get('file')}): retrain it")


def _label_order(label: str):
    """``__label__12`` before ``__label__100`` (nade's numbered labels); others by name."""
    tail = label.removeprefix("__label__")
    return (0, int(tail), "") if tail.isdigit() else (1, 0, tail)


def load_emoji_predictor(spec: str) -> EmojiSignal:
    """The shared predictor for ``spec`` (``NLPLAB_EMOJI_MODEL``; the built-in loads in
    ~0.05 s, 13 MB), loaded once per process in the loaders' memo (:mod:`core.memo`)."""
    from core.memo import memoized

    return memoized(("emoji predictor", spec, "cpu"), lambda: EmojiSignal(spec))


def source_description(spec: str) -> tuple[str, str]:
    """(where the model file is, what it is) for the status page, without loading it."""
    from core.model_sources import BUILTINS

    path = model_file(spec)
    what = (BUILTINS[BUILTIN.removeprefix("builtin:")].description if spec.strip() == BUILTIN
            else f"fastText model file {path.name}")
    return str(path), what


def append_block(X, block: np.ndarray | None):
    """TF-IDF rows with the emoji block on the right (``X`` unchanged when ``block`` is None)."""
    if block is None:
        return X
    return sparse.hstack([sparse.csr_matrix(X), sparse.csr_matrix(block)], format="csr")
