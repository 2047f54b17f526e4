"""Trained emotion models: one object to predict with, saved in our own formats.

A model lives in ``<data_dir>/emotion_models/<name>/``:
- ``settings.json``: kind, labels, preprocessing config, training settings, format version;
- ``metrics.json``: cross-validation and held-out test metrics, training time;
- classical kinds: ``features.json`` (ngram size, term list) + ``weights.npz`` (idf and the
  head's arrays: linear coefficients, or every tree's node arrays, or a stack of both), loaded
  with ``allow_pickle=False``; with emoji features, ``settings.json`` names the emoji
  predictor and its 151 labels (checked on load: the head's last 151 columns read them);
- transformer: ``encoder/`` written by ``save_pretrained`` (safetensors + tokenizer JSON);
  with mean pooling the encoder alone plus ``classifier.safetensors`` (the linear head); an
  ensemble's other networks in ``encoder-1/``, ``encoder-2/``... (``settings["encoders"]``);
- sentence_logreg: ``encoder/`` written by ``SentenceTransformer.save`` (safetensors, its
  pooling and normalisation modules) + ``weights.npz`` (the logistic head's arrays);
- hybrid, transformer_hybrid: ``members/<kind>/``, each member saved as above.
Nothing is pickled or unpickled. Names follow the one store-name rule (:mod:`core.names`,
``[a-z0-9_-]{1,64}``) and are checked before any path is built; a model is written into a
temporary folder renamed into place (:func:`core.atomic.atomic_dir`).

Example:
    >>> load_model("../etc", data_dir)   # doctest: +SKIP
    Traceback (most recent call last):
    core.errors.UserError: model name '../etc' is not allowed; ...
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.atomic import atomic_dir
from core.emotions.classical import head_from_arrays
from core.emotions.features import TfidfFeatures, UnionFeatures, features_from_saved
from core.emotions.preprocess import PreprocessConfig, cached_preprocessor
from core.errors import UserError
from core.names import check_name, is_valid_name

FORMAT_VERSION = 1
#: Kinds saved as member models (``members/<kind>/``) whose probabilities are averaged.
HYBRIDS = ("hybrid", "transformer_hybrid")
MODELS_FOLDER = "emotion_models"


def models_root(data_dir: Path) -> Path:
    return Path(data_dir) / MODELS_FOLDER


@dataclass
class EmotionModel:
    """Preprocessing + features + head, with labels and the metrics it was trained with."""

    name: str
    kind: str
    labels: list[str]
    preprocess: PreprocessConfig
    head: object
    features: TfidfFeatures | UnionFeatures | None = None
    info: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    data_dir: Path | None = None
    emoji_signal: object | None = None   # core.emotions.emoji_signal.EmojiSignal

    def preprocessor(self):
        return cached_preprocessor(self.preprocess, self.data_dir)

    def prepare(self, texts: list[str]):
        """What the head consumes: TF-IDF rows, or cleaned strings for a transformer."""
        if self.kind in HYBRIDS:   # each member prepares the texts its own way
            return list(texts)
        pre = self.preprocessor()
        if self.features is None:
            return [pre.text(t) for t in texts]
        rows = self.features.transform([pre.tokens(t) for t in texts])
        if self.emoji_signal is None:
            return rows
        from core.emotions.emoji_signal import append_block

        return append_block(rows, self.emoji_signal.transform(texts))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.head.predict_proba(self.prepare(list(texts)))

    def classify(self, texts: list[str]) -> list[dict]:
        """[{"text", "label", "scores": {label: probability}}] (SVC: softmax of margins)."""
        texts = [str(t) for t in texts]
        if not texts:
            raise UserError("give at least one tweet to classify")
        empty = [i for i, t in enumerate(texts) if not t.strip()]
        if empty:
            raise UserError(f"tweet {empty[0] + 1} is empty: type some text")
        proba = self.predict_proba(texts)
        return [{"text": t, "label": self.labels[int(p.argmax())],
                 "scores": {lab: round(float(v), 4) for lab, v in zip(self.labels, p,
                                                                       strict=True)}}
                for t, p in zip(texts, proba, strict=True)]


def save_model(model: EmotionModel, data_dir: Path) -> Path:
    """Write the model folder (replacing one of the same name) and return it."""
    folder = models_root(data_dir) / check_name(model.name, "model")
    with atomic_dir(folder) as tmp:
        _write(model, tmp)
    return folder


def _write(model: EmotionModel, tmp: Path) -> None:
    settings = {"format_version": FORMAT_VERSION, "name": model.name, "kind": model.kind,
                "labels": model.labels, "preprocess": model.preprocess.to_dict(),
                "info": model.info, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if model.kind in HYBRIDS:
        settings["members"] = [m.kind for m in model.head.members]
        for member in model.head.members:
            (tmp / "members" / member.kind).mkdir(parents=True)
            _write(member, tmp / "members" / member.kind)
    elif model.kind == "sentence_logreg":
        settings["head"] = model.head.linear.meta()
        model.head.encoder.save(str(tmp / "encoder"), safe_serialization=True)
        np.savez_compressed(tmp / "weights.npz", **model.head.linear.arrays())
    elif model.features is not None:
        settings["head"] = model.head.meta()
        if model.emoji_signal is not None:
            settings["emoji_signal"] = model.emoji_signal.describe()
        (tmp / "features.json").write_text(json.dumps(model.features.to_json()))
        np.savez_compressed(tmp / "weights.npz", idf=model.features.idf, **model.head.arrays())
    else:
        mean = hasattr(model.head.model, "init_head")    # MeanPoolClassifier
        for j, network in enumerate(model.head.networks):
            if mean:
                network.save(tmp / _encoder_folder(j))
            else:
                network.save_pretrained(tmp / _encoder_folder(j), safe_serialization=True)
        settings["pooling"] = "mean" if mean else "cls"
        model.head.tokenizer.save_pretrained(tmp / "encoder")
        settings["max_length"] = model.head.max_length
        settings["encoders"] = len(model.head.networks)
    (tmp / "settings.json").write_text(json.dumps(settings, indent=1))
    (tmp / "metrics.json").write_text(json.dumps(model.metrics, indent=1))


def load_model(name: str, data_dir: Path) -> EmotionModel:
    folder = models_root(data_dir) / check_name(name, "model")
    if not (folder / "settings.json").is_file():
        have = ", ".join(list_models(data_dir)) or "none yet"
        raise UserError(f"no trained model named {name!r} (trained models: {have}); "
                        "train one with `emotions train`")
    return _read(folder, name, data_dir)


def _read(folder: Path, name: str, data_dir: Path) -> EmotionModel:
    settings = json.loads((folder / "settings.json").read_text())
    if settings.get("format_version") != FORMAT_VERSION:
        raise UserError(f"model {name!r} was saved in format {settings.get('format_version')}, "
                        f"this version reads {FORMAT_VERSION}: retrain it")
    metrics = json.loads((folder / "metrics.json").read_text())
    pre = PreprocessConfig.from_dict(settings["preprocess"])
    common = {"name": name, "kind": settings["kind"], "labels": settings["labels"],
              "preprocess": pre, "info": settings.get("info", {}), "metrics": metrics,
              "data_dir": Path(data_dir)}
    if settings["kind"] in HYBRIDS:
        from core.emotions.hybrid import AverageHead

        members = [_read(folder / "members" / check_name(kind, "member"), name, data_dir)
                   for kind in settings["members"]]
        return EmotionModel(head=AverageHead(members), **common)
    if settings["kind"] == "transformer":
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from core.emotions.transformer import TransformerHead

        if settings.get("pooling") == "mean":
            from core.emotions.pooling import MeanPoolClassifier

            read = MeanPoolClassifier.load
        else:
            read = AutoModelForSequenceClassification.from_pretrained
        networks = [read(folder / _encoder_folder(j))
                    for j in range(int(settings.get("encoders", 1)))]
        head = TransformerHead(networks[0], AutoTokenizer.from_pretrained(folder / "encoder"),
                               settings["max_length"], networks[1:])
        return EmotionModel(head=head, **common)
    with np.load(folder / "weights.npz", allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if settings["kind"] == "sentence_logreg":
        from sentence_transformers import SentenceTransformer

        from core.emotions.sentence import SentenceHead

        encoder = SentenceTransformer(str(folder / "encoder"), trust_remote_code=False)
        return EmotionModel(head=SentenceHead(encoder, head_from_arrays(settings["head"], arrays)),
                            **common)
    features = features_from_saved(json.loads((folder / "features.json").read_text()),
                                   arrays.pop("idf"))
    signal = None
    if "emoji_signal" in settings:
        from core.emotions.emoji_signal import BUILTIN, load_emoji_predictor

        signal = load_emoji_predictor(settings["emoji_signal"].get("spec", BUILTIN))
        signal.check(settings["emoji_signal"])
    return EmotionModel(head=head_from_arrays(settings["head"], arrays), features=features,
                        emoji_signal=signal, **common)


def _encoder_folder(j: int) -> str:
    """0 -> 'encoder' (with the tokenizer), 1 -> 'encoder-1', ...: an ensemble's networks."""
    return "encoder" if j == 0 else f"encoder-{j}"


def list_models(data_dir: Path) -> list[str]:
    root = models_root(data_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if is_valid_name(p.name)
                  and (p / "settings.json").is_file())


def model_summary(data_dir: Path, name: str) -> dict:
    """settings + metrics of a saved model without loading its weights."""
    folder = models_root(data_dir) / check_name(name, "model")
    return {"settings": json.loads((folder / "settings.json").read_text()),
            "metrics": json.loads((folder / "metrics.json").read_text())}
