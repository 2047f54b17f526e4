"""Train one emotion model end to end: split, cross-validate, fit, test, save.

Steps (the same for every model, so the comparison table is fair):
1. drop classes too small to split (reported); encode labels in sorted order;
2. stratified train/test split (``test_size``); the test rows are never oversampled or seen;
3. the fit on the whole training split (timed: ``seconds``), hyperparameters chosen by
   stratified CV inside it (:mod:`core.emotions.classical`);
4. classical models: stratified k-fold cross-validation on the TRAINING split with those
   hyperparameters (TF-IDF refit and oversampling inside each fold's training part only; the
   folds' macro-F1 is therefore slightly optimistic, the held-out test is not);
   sentence_logreg: the same k folds over the frozen embeddings; hybrid: the same k folds,
   each fold fitting both members and scoring their mean; transformer: a validation
   split of the training part (early stopping) stands in for k-fold, which would mean k
   fine-tunes; transformer_hybrid: each member's own (k folds, validation split); then
   metrics on the held-out test split. TF-IDF rows carry the emoji predictor's block
   (:mod:`core.emotions.emoji_signal`) unless ``emoji_features`` is off;
5. save under ``<data_dir>/emotion_models/<name>/`` unless ``save=False``.
It does not load data files (:mod:`core.emotions.datasets`) or render anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.emotions.classical import fit_head
from core.emotions.config import TrainConfig
from core.emotions.datasets import (
    LabelledData,
    apply_groups,
    check_texts,
    drop_rare,
    stratified_split,
)
from core.emotions.features import build_features
from core.emotions.metrics import classification_metrics, score_intervals, summarise_folds
from core.emotions.models_store import EmotionModel, save_model
from core.emotions.preprocess import TRANSFORMER_CONFIG, cached_preprocessor
from core.emotions.transformer import TransformerConfig, fine_tune_ensemble
from core.errors import UserError
from core.settings import Settings

Progress = Callable[[float, str], None] | None


@dataclass
class TrainResult:
    model: EmotionModel
    cv: dict
    test: dict
    seconds: float
    total_seconds: float
    report: dict

    def summary(self) -> dict:
        """The CLI's contract: name, labels, cv, seconds."""
        return {"name": self.model.name, "labels": self.model.labels, "cv": self.cv,
                "seconds": self.seconds}


def _cv_folds(y: np.ndarray, config: TrainConfig, progress: Progress):
    """(train rows, validation rows) of each stratified fold, with a progress report each."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(config.cv_folds, shuffle=True, random_state=config.seed)
    for i, (tr, va) in enumerate(splitter.split(np.zeros(len(y)), y)):
        if progress:
            progress(0.5 + 0.35 * i / config.cv_folds,
                     f"cross-validation fold {i + 1}/{config.cv_folds}")
        yield tr, va


def _classical_cv(tokens, emoji, y, config: TrainConfig, n_classes, labels, progress,
                  params: dict | None = None) -> dict:
    folds = []
    for tr, va in _cv_folds(y, config, progress):
        feats = build_features(config.model, config.min_df).fit([tokens[j] for j in tr])
        head, _ = fit_head(config.model, _rows(feats, tokens, emoji, tr), y[tr],
                           n_classes, config.seed, config.oversample, params)
        pred = head.predict_proba(_rows(feats, tokens, emoji, va)).argmax(1)
        folds.append(classification_metrics(y[va], pred, labels))
    return summarise_folds(folds)


def _emoji_block(texts: list[str], config: TrainConfig, settings: Settings | None):
    """(the emoji predictor, its (n, 151) block for ``texts``), or (None, None) when off.
    The predictor is ``settings.emoji_model`` (the built-in one without settings)."""
    if not config.emoji_features:
        return None, None
    from core.emotions.emoji_signal import BUILTIN, load_emoji_predictor

    signal = load_emoji_predictor(settings.emoji_model if settings else BUILTIN)
    return signal, signal.transform(texts)


def _rows(feats, tokens, emoji, rows=None):
    """The head's input for ``rows`` (all when None): TF-IDF of their tokens + emoji block."""
    from core.emotions.emoji_signal import append_block

    rows = range(len(tokens)) if rows is None else rows
    return append_block(feats.transform([tokens[j] for j in rows]),
                        None if emoji is None else emoji[np.asarray(list(rows), dtype=int)])


def _preprocess(fn, texts: list[str], progress: Progress, chunk: int = 500) -> list:
    """``fn`` over ``texts`` with a progress report per chunk (a cancel point on big sets)."""
    out = []
    for start in range(0, len(texts), chunk):
        if progress:
            progress(0.02 + 0.08 * start / len(texts), f"preprocessing tweet {start + 1:,}"
                                                        f"/{len(texts):,}")
        out.extend(fn(t) for t in texts[start:start + chunk])
    return out


def _sentence_cv(X, y, config: TrainConfig, n_classes, labels, progress, params) -> dict:
    from core.emotions.classical import fit_logreg

    folds = []
    for tr, va in _cv_folds(y, config, progress):
        head, _ = fit_logreg(X[tr], y[tr], n_classes, config.seed, config.oversample,
                             params=params)
        folds.append(classification_metrics(y[va], head.predict_proba(X[va]).argmax(1), labels))
    return summarise_folds(folds)


def _fit_transformer(texts, y, labels, config, pre, progress, on_loss, base, settings,
                     transformer, epochs=None, data_dir=None, teacher_params=None, encoder=None):
    """(model, info, cv) for the fine-tuned encoder; ``epochs`` fixed = a refit without a
    validation split (the number the first run's early stopping chose). With
    ``config.distill > 0`` it learns from the teacher's soft targets too
    (:mod:`core.emotions.distill`; ``teacher_params``: the first run's ``info["distill"]``,
    whose C and weighting the refit reuses instead of searching again; ``encoder``: the
    sentence encoder ``config.teacher == "hybrid"`` embeds with, None for the one in
    ``settings``)."""
    from dataclasses import replace

    from core.loaders import load_classifier_base

    if base is None and settings is None:
        raise ValueError("the transformer needs base= or settings= to load its encoder")
    tcfg = transformer or TransformerConfig(
        epochs=config.epochs, seed=config.seed, ensemble_size=config.ensemble_size,
        distill=config.distill,
        imbalance="oversample" if config.oversample else "class_weights")
    if epochs is not None:
        tcfg = replace(tcfg, epochs=epochs, val_fraction=0.0)
    base = base or (lambda labs: load_classifier_base(settings, labs))
    cleaned = _preprocess(pre.text, texts, _scaled(progress, 0.0, 0.5))   # ends at 0.05
    teacher = None
    if tcfg.distill > 0:
        teacher = _teacher(texts, cleaned, y, len(labels), config, settings, data_dir,
                           teacher_params or {}, encoder, _scaled(progress, 0.05, 0.5))  # to 0.1
    head, info = fine_tune_ensemble(cleaned, y, labels, tcfg, base,
                                    _scaled(progress, 0.1, 0.9), on_loss, teacher)
    cv = {"folds": 0, "method": "validation split (early stopping)",
          "validation_rows": info["validation_rows"], "macro_f1_mean": info["best_val_macro_f1"]}
    return EmotionModel(config.name, "transformer", labels, pre.config, head, info=info), cv


def _teacher(texts, cleaned, y, n_classes, config, settings, data_dir, chosen, encoder,
             progress):
    """The distillation teacher over ``texts``: the default TF-IDF preprocessing (tokens) and
    the emoji block when ``config.emoji_features``, as ``--model logreg`` would train; with
    ``config.teacher == "hybrid"`` also the sentence embeddings of ``cleaned`` (the
    transformer's own light cleaning, as ``hybrid``'s sentence member reads)."""
    from core.emotions.distill import TfidfTeacher
    from core.emotions.preprocess import PreprocessConfig

    if data_dir is None:
        raise ValueError("distillation needs data_dir (the TF-IDF preprocessing's WordNet)")
    classical = cached_preprocessor(PreprocessConfig(), Path(data_dir))
    tokens = _preprocess(classical.tokens, texts, _scaled(progress, 0.0, 0.6))
    _, emoji = _emoji_block(texts, config, settings)
    sentence = None
    if config.teacher == "hybrid":
        from core.emotions.sentence import embed

        sentence = embed(_sentence_encoder(settings, encoder), cleaned,
                         _scaled(progress, 0.06, 0.04))   # after the tokens' 0.06
    return TfidfTeacher(tokens, emoji, np.asarray(y), n_classes, config.seed, config.min_df,
                        chosen.get("params"), sentence, chosen.get("sentence_params"))


def _fit_sentence(texts, y, labels, config, pre, progress, settings, encoder, params=None):
    from threadpoolctl import threadpool_limits

    from core.emotions.sentence import fit_sentence_head

    encoder = _sentence_encoder(settings, encoder)
    cleaned = _preprocess(pre.text, texts, progress)
    with threadpool_limits(limits=1, user_api="blas"):
        head, info, X = fit_sentence_head(cleaned, y, len(labels), encoder, config.seed,
                                          config.oversample, _scaled(progress, 0.1, 0.4),
                                          params)
        cv = (_sentence_cv(X, y, config, len(labels), labels, progress, info.get("params"))
              if params is None else None)
    return EmotionModel(config.name, "sentence_logreg", labels, pre.config, head, info=info), cv


def _fit_classical(texts, y, labels, config, pre, progress, params=None, settings=None):
    # BLAS thread pools thrash on a busy 2-core box (LR fits measured 50x slower), so the
    # classical fits run single-threaded BLAS; the forest still uses 2 joblib workers.
    # The ``with`` restores the thread count even when a fold fails or is cancelled.
    from threadpoolctl import threadpool_limits

    k = len(labels)
    with threadpool_limits(limits=1):
        tokens, signal, emoji, feats, head, info = _fit_tfidf(
            config.model, texts, y, k, config, pre, progress, settings, params)
        # the folds reuse the chosen hyperparameters: k refits, not k more searches
        cv = (_classical_cv(tokens, emoji, y, config, k, labels, progress,
                            info.get("params")) if params is None else None)
    return EmotionModel(config.name, config.model, labels, pre.config, head, feats,
                        info=info, emoji_signal=signal), cv


def _fit_tfidf(kind, texts, y, k, config, pre, progress, settings, params):
    """(tokens, emoji signal, emoji block, features, head, info): one TF-IDF model's fit,
    shared by the classical models and ``hybrid``'s word member (which reuse the tokens and
    the block for their CV)."""
    tokens = _preprocess(pre.tokens, texts, progress)
    signal, emoji = _emoji_block(texts, config, settings)
    feats = build_features(kind, config.min_df).fit(tokens)
    head, info = fit_head(kind, _rows(feats, tokens, emoji), y, k, config.seed,
                          config.oversample, params)
    info = {**info, "vocabulary": len(feats.vocabulary), "emoji_features": signal is not None}
    return tokens, signal, emoji, feats, head, info


def _sentence_encoder(settings: Settings | None, encoder):
    if encoder is not None:
        return encoder
    if settings is None:
        raise ValueError("the sentence model needs encoder= or settings= for its encoder")
    from core.loaders import load_embedder

    return load_embedder(settings)


def _fit_hybrid(texts, y, labels, config, pre, progress, settings, encoder, data_dir,
                params=None):
    """(model, cv) for ``hybrid``: the TF-IDF logistic regression on ``pre``'s tokens (and the
    emoji block) and the sentence-embedding one on lightly cleaned text, averaged
    (:mod:`core.emotions.hybrid`).
    ``params`` ({member kind: C and class weighting}) skips both searches and the CV."""
    from threadpoolctl import threadpool_limits

    from core.emotions.hybrid import AverageHead
    from core.emotions.sentence import fit_sentence_head

    k, params = len(labels), params or {}
    light = cached_preprocessor(TRANSFORMER_CONFIG, Path(data_dir))
    with threadpool_limits(limits=1):
        tokens, signal, emoji, feats, words_head, words_info = _fit_tfidf(
            "logreg", texts, y, k, config, pre, _scaled(progress, 0.0, 0.5), settings,
            params.get("logreg"))
    cleaned = [light.text(t) for t in texts]
    with threadpool_limits(limits=1, user_api="blas"):
        sentence_head, sentence_info, X = fit_sentence_head(
            cleaned, y, k, _sentence_encoder(settings, encoder), config.seed, config.oversample,
            _scaled(progress, 0.2, 0.3), params.get("sentence_logreg"))
    chosen = {"logreg": words_info.get("params"), "sentence_logreg": sentence_info.get("params")}
    cv = None
    if not params:
        with threadpool_limits(limits=1):
            cv = _hybrid_cv(tokens, emoji, X, y, config, labels, progress, chosen)
    words = EmotionModel(config.name, "logreg", labels, pre.config, words_head, feats,
                         info=words_info, data_dir=Path(data_dir), emoji_signal=signal)
    sentence = EmotionModel(config.name, "sentence_logreg", labels, light.config, sentence_head,
                            info=sentence_info, data_dir=Path(data_dir))
    # each member's own info (vocabulary, search) is saved with it: only the choices here
    return EmotionModel(config.name, "hybrid", labels, pre.config,
                        AverageHead([words, sentence]), info={"params": chosen}), cv


def _fit_transformer_hybrid(texts, y, labels, config, pre, progress, on_loss, base, settings,
                            transformer, data_dir, params=None):
    """(model, cv) for ``transformer_hybrid``: the TF-IDF logistic regression (with its own
    k-fold CV) and the fine-tuned transformer (with its validation split), averaged.
    ``params`` ({"logreg": C and weighting, "epochs": n}) is the refit: no search, no split."""
    from dataclasses import replace

    from core.emotions.hybrid import AverageHead

    params = params or {}
    words, words_cv = _fit_classical(texts, y, labels, replace(config, model="logreg"), pre,
                                     _scaled(progress, 0.0, 0.15), params.get("logreg"),
                                     settings)
    light = cached_preprocessor(TRANSFORMER_CONFIG, Path(data_dir))
    # its partner is the teacher already: distilling would count the regression twice
    encoder, encoder_cv = _fit_transformer(
        texts, y, labels, replace(config, distill=0.0), light, _scaled(progress, 0.15, 0.85),
        on_loss, base, settings, transformer and replace(transformer, distill=0.0),
        epochs=params.get("epochs"))
    for member in (words, encoder):
        member.data_dir = Path(data_dir)
    chosen = {"logreg": words.info.get("params") or params.get("logreg"),
              "epochs": max(1, encoder.info.get("best_epoch") or params.get("epochs") or 1)}
    cv = None if params else {"folds": 0, "method": "each member's own",
                              "members": {"logreg": words_cv, "transformer": encoder_cv}}
    return EmotionModel(config.name, "transformer_hybrid", labels, pre.config,
                        AverageHead([words, encoder]), info={"params": chosen}), cv


def _hybrid_cv(tokens, emoji, X, y, config: TrainConfig, labels, progress,
               params: dict) -> dict:
    from core.emotions.classical import fit_logreg

    folds = []
    for tr, va in _cv_folds(y, config, progress):
        feats = build_features("logreg", config.min_df).fit([tokens[j] for j in tr])
        words, _ = fit_head("logreg", _rows(feats, tokens, emoji, tr), y[tr],
                            len(labels), config.seed, config.oversample, params["logreg"])
        sentence, _ = fit_logreg(X[tr], y[tr], len(labels), config.seed, config.oversample,
                                 params=params["sentence_logreg"])
        proba = (words.predict_proba(_rows(feats, tokens, emoji, va))
                 + sentence.predict_proba(X[va])) / 2
        folds.append(classification_metrics(y[va], proba.argmax(1), labels))
    return summarise_folds(folds)


@dataclass(frozen=True)
class _Fit:
    """What every kind's fit gets besides its rows: the run's config and the encoders."""

    labels: list[str]
    config: TrainConfig
    pre: object  # the kind's cached preprocessor
    data_dir: Path
    on_loss: Callable[[dict], None] | None = None
    base: object = None
    settings: Settings | None = None
    transformer: TransformerConfig | None = None
    encoder: object = None


def _first_transformer(f: _Fit, texts, y, progress):
    return _fit_transformer(texts, y, f.labels, f.config, f.pre, progress, f.on_loss, f.base,
                            f.settings, f.transformer, data_dir=f.data_dir, encoder=f.encoder)


def _refit_transformer(f: _Fit, texts, y, progress, first: dict):
    model, _ = _fit_transformer(texts, y, f.labels, f.config, f.pre, progress, f.on_loss,
                                f.base, f.settings, f.transformer,
                                epochs=max(1, first["best_epoch"]), data_dir=f.data_dir,
                                encoder=f.encoder, teacher_params=first["distill"])
    model.info = {**model.info, "selection": {
        k: first[k] for k in ("epochs_run", "best_epoch", "best_val_macro_f1",
                              "validation_rows")}}
    return model


@dataclass(frozen=True)
class ModelKind:
    """How :func:`train` fits one kind of emotion model: ``fit(fit, texts, y, progress) ->
    (model, cv)`` on the training split, ``refit(fit, texts, y, progress, first_info) ->
    model`` on every row with the choices the first fit made; ``slow_refit``: a refit as long
    as the first fit (fine-tuning), which gets an equal share of the progress bar."""

    fit: Callable
    refit: Callable
    slow_refit: bool = False


_CLASSICAL = ModelKind(
    fit=lambda f, texts, y, progress: _fit_classical(texts, y, f.labels, f.config, f.pre,
                                                     progress, settings=f.settings),
    refit=lambda f, texts, y, progress, first: _fit_classical(
        texts, y, f.labels, f.config, f.pre, progress, first.get("params"), f.settings)[0])

#: Every emotion model kind but the classical heads (:data:`_CLASSICAL` for those).
MODEL_KINDS: dict[str, ModelKind] = {
    "transformer": ModelKind(_first_transformer, _refit_transformer, slow_refit=True),
    "sentence_logreg": ModelKind(
        fit=lambda f, texts, y, progress: _fit_sentence(texts, y, f.labels, f.config, f.pre,
                                                        progress, f.settings, f.encoder),
        refit=lambda f, texts, y, progress, first: _fit_sentence(
            texts, y, f.labels, f.config, f.pre, progress, f.settings, f.encoder,
            first.get("params"))[0]),
    "hybrid": ModelKind(
        fit=lambda f, texts, y, progress: _fit_hybrid(texts, y, f.labels, f.config, f.pre,
                                                      progress, f.settings, f.encoder,
                                                      f.data_dir),
        refit=lambda f, texts, y, progress, first: _fit_hybrid(
            texts, y, f.labels, f.config, f.pre, progress, f.settings, f.encoder, f.data_dir,
            first.get("params"))[0]),
    "transformer_hybrid": ModelKind(
        fit=lambda f, texts, y, progress: _fit_transformer_hybrid(
            texts, y, f.labels, f.config, f.pre, progress, f.on_loss, f.base, f.settings,
            f.transformer, f.data_dir),
        refit=lambda f, texts, y, progress, first: _fit_transformer_hybrid(
            texts, y, f.labels, f.config, f.pre, progress, f.on_loss, f.base, f.settings,
            f.transformer, f.data_dir, first["params"])[0],
        slow_refit=True),
}


def model_kind(name: str) -> ModelKind:
    """The entry of ``name``: its own, else the classical heads'."""
    return MODEL_KINDS.get(name, _CLASSICAL)


def train(data: LabelledData, config: TrainConfig, data_dir: Path, progress: Progress = None,
          on_loss: Callable[[dict], None] | None = None, base=None, save: bool = True,
          transformer: TransformerConfig | None = None, *,
          settings: Settings | None = None, encoder=None) -> TrainResult:
    """Train ``config.model`` on ``data`` and save it under ``data_dir`` (unless ``save=False``).

    The transformer's encoder comes from ``base`` (labels -> (model, tokenizer)) or else from
    ``settings.classifier_model``; sentence_logreg's from ``encoder`` (a SentenceTransformer) or
    else ``settings.embedding_model``: the caller passes its Settings, nothing here re-reads them.
    With ``config.refit`` the saved model is refit on every row once the held-out split is
    scored, with the hyperparameters (or the transformer's epoch count) chosen on the training
    split: the reported test metrics belong to the model trained without those rows.
    """
    t_start = time.perf_counter()
    check_texts(data)
    if config.group_map:
        data = apply_groups(data, config.group_map)
    data = drop_rare(data, max(config.cv_folds * 2, 5))
    labels = sorted(set(data.labels))
    index = {lab: i for i, lab in enumerate(labels)}
    y_all = np.array([index[lab] for lab in data.labels])
    train_idx, test_idx = stratified_split(data.labels, config.test_size, config.seed)
    fit = _Fit(labels, config, cached_preprocessor(config.preprocess_config(), Path(data_dir)),
               Path(data_dir), on_loss, base, settings, transformer, encoder)
    if progress:
        progress(0.02, f"preprocessing {len(data.texts)} tweets")
    kind = model_kind(config.model)
    span = 0.55 if config.refit and kind.slow_refit else 0.8
    t0 = time.perf_counter()
    model, cv = kind.fit(fit, [data.texts[i] for i in train_idx], y_all[train_idx],
                         _scaled(progress, 0.05, span))
    seconds = time.perf_counter() - t0
    model.data_dir = Path(data_dir)
    if progress:
        progress(0.05 + span, "scoring the held-out test split")
    test = _test_metrics(model, [data.texts[i] for i in test_idx], y_all[test_idx], labels)
    if config.refit:
        if progress:
            progress(0.05 + span, f"refitting on all {len(y_all):,} tweets")
        t1 = time.perf_counter()
        model = kind.refit(fit, data.texts, y_all, _scaled(progress, 0.05 + span,
                                                           0.9 - span - 0.05), model.info)
        model.data_dir = Path(data_dir)
        model.info = {**model.info, "refit_seconds": round(time.perf_counter() - t1, 3)}
    refit_rows = len(y_all) if config.refit else 0
    report = {**data.report, "train_rows": len(train_idx), "test_rows": len(test_idx),
              "oversample": config.oversample, "refit_rows": refit_rows}
    model.info = {**model.info, "train": {"rows": len(train_idx), "test_rows": len(test_idx),
                                          "refit_rows": refit_rows,
                                          "oversample": config.oversample, "seed": config.seed,
                                          "cv_folds": config.cv_folds},
                  "group_map": config.group_map or {}}
    model.metrics = {"cv": cv, "test": test, "seconds": round(seconds, 3)}
    if save:
        save_model(model, Path(data_dir))
    if progress:
        progress(1.0, "done")
    return TrainResult(model, cv, test, round(seconds, 3),
                       round(time.perf_counter() - t_start, 3), report)


def _test_metrics(model: EmotionModel, texts: list[str], y: np.ndarray, labels) -> dict:
    predicted = model.predict_proba(texts).argmax(1)
    return {**classification_metrics(y, predicted, labels),
            "ci95": score_intervals(y, predicted, len(labels))}


def _scaled(progress: Progress, start: float, span: float) -> Progress:
    """``progress`` mapped onto [start, start + span] of the whole run."""
    if progress is None:
        return None
    return lambda f, m: progress(start + span * f, m)


def evaluate(model: EmotionModel, data: LabelledData) -> dict:
    """Metrics of a trained model on labelled data; unknown labels are reported, not scored."""
    index = {lab: i for i, lab in enumerate(model.labels)}
    known = [i for i, lab in enumerate(data.labels) if lab in index]
    unknown = sorted({lab for lab in data.labels if lab not in index})
    if not known:
        raise UserError(f"none of the data's labels ({', '.join(unknown[:10])}) are labels of "
                        f"model {model.name!r} ({', '.join(model.labels)}); use the same "
                        "grouping as in training")
    y = np.array([index[data.labels[i]] for i in known])
    proba = model.predict_proba([data.texts[i] for i in known])
    m = classification_metrics(y, proba.argmax(1), model.labels)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"],
            "ci95": score_intervals(y, proba.argmax(1), len(model.labels)),
            "weighted_f1": m["weighted_f1"], "per_class": m["per_class"],
            "rows": len(known), "skipped_unknown_labels": unknown, "confusion": m["confusion"]}
