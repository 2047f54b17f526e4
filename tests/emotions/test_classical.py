"""Every classifier trains and predicts; saved models predict exactly like the fitted ones."""

from __future__ import annotations

import numpy as np
import pytest

from core.emotions import classical
from core.emotions.features import TfidfFeatures
from core.emotions.models_store import list_models, load_model
from core.emotions.training import TrainConfig, evaluate, train
from core.errors import UserError
from core.names import check_name


def test_tfidf_known_answer_and_matches_sklearn():
    """idf = ln((1+n)/(1+df)) + 1: n=2, 'day' in both -> 1.0; 'happy' in one -> 1.4055."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [["happy", "day", "day"], ["sad", "day"], ["not", "happy", "not"]]
    feats = TfidfFeatures(ngram_max=1).fit(docs[:2])
    assert feats.vocabulary == ["day", "happy", "sad"]
    assert np.allclose(feats.idf, [1.0, 1.405465, 1.405465], atol=1e-6)
    ref = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True).fit(docs)
    ours = TfidfFeatures(ngram_max=1).fit(docs)
    assert np.allclose(ref.transform(docs).toarray(), ours.transform(docs).toarray())


def _xy(small_data):
    from core.emotions.preprocess import PreprocessConfig, Preprocessor

    pre = Preprocessor(PreprocessConfig(lemmatize=False))
    X = TfidfFeatures().fit_transform([pre.tokens(t) for t in small_data.texts])
    labels = sorted(set(small_data.labels))
    return X, np.array([labels.index(lab) for lab in small_data.labels])


def test_portable_heads_match_sklearn(small_data):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = _xy(small_data)
    lr = LogisticRegression(max_iter=500).fit(X, y)
    head = classical.LinearHead("logistic", lr.coef_, lr.intercept_, 3)
    assert np.allclose(head.predict_proba(X), lr.predict_proba(X))
    rf = RandomForestClassifier(n_estimators=7, random_state=0).fit(X, y)
    assert np.allclose(classical.ForestHead.from_sklearn(rf).predict_proba(X),
                       rf.predict_proba(X))
    yb = (y == 0).astype(int)
    lr2 = LogisticRegression().fit(X, yb)
    assert np.allclose(classical.LinearHead("logistic", lr2.coef_, lr2.intercept_, 2)
                       .predict_proba(X), lr2.predict_proba(X))


@pytest.mark.parametrize("model", classical.CLASSICAL)
def test_each_classifier_trains_predicts_and_reloads(model, small_data, tmp_path):
    result = train(small_data, TrainConfig(model=model, name=f"m-{model}"), tmp_path)
    assert result.model.labels == ["anger", "joy", "sadness"]
    assert result.cv["folds"] == 3 and result.cv["macro_f1_mean"] > 0.6
    assert result.test["accuracy"] >= 0.7     # separable vocabularies: chance is ~0.44
    assert set(result.summary()) == {"name", "labels", "cv", "seconds"}
    loaded = load_model(f"m-{model}", tmp_path)
    texts = small_data.texts[:30]
    assert np.allclose(loaded.predict_proba(texts), result.model.predict_proba(texts))
    out = loaded.classify([small_data.texts[0], small_data.texts[-1]])   # a joy, an anger
    assert [o["label"] for o in out] == ["joy", "anger"]
    assert abs(sum(out[0]["scores"].values()) - 1) < 1e-3
    assert evaluate(loaded, small_data)["accuracy"] >= 0.7
    assert f"m-{model}" in list_models(tmp_path)
    saved = {p.name for p in (tmp_path / "emotion_models" / f"m-{model}").iterdir()}
    assert saved == {"settings.json", "metrics.json", "features.json", "weights.npz"}


def test_logreg_search_records_choice(small_data, tmp_path):
    result = train(small_data, TrainConfig(model="logreg", name="lr"), tmp_path, save=False)
    assert result.model.info["C"] in classical.LOGREG_GRID["C"]
    assert result.model.info["class_weight"] in classical.LOGREG_GRID["class_weight"]


@pytest.mark.parametrize("name", ["../evil", "a/b", ".hidden", "", "x" * 65, "a..b", "sp ace"])
def test_unsafe_names_rejected(name):
    with pytest.raises(UserError, match="not allowed"):
        check_name(name, "model")


def test_classify_refuses_empty_and_unknown_model(small_data, tmp_path):
    result = train(small_data, TrainConfig(model="linear_svc", name="svc"), tmp_path)
    with pytest.raises(UserError, match="empty"):
        result.model.classify(["  "])
    with pytest.raises(UserError, match="no trained model named 'nope'"):
        load_model("nope", tmp_path)


@pytest.mark.parametrize("fail_in", ["cv", "cancel"])
def test_a_failing_cross_validation_restores_the_blas_thread_count(small_data, tmp_path,
                                                                    monkeypatch, fail_in):
    """Classical fits run single-threaded BLAS; a fold that raises (or a cancel raised from
    the progress callback) must not leave the server single-threaded for good."""
    import importlib

    from threadpoolctl import threadpool_info, threadpool_limits

    from core.emotions import training

    for module in ("sklearn.ensemble", "sklearn.linear_model", "sklearn.svm"):
        importlib.import_module(module)  # every BLAS/OpenMP pool the fits use, before counting

    def counts():
        return {pool["filepath"]: pool["num_threads"] for pool in threadpool_info()}

    def boom(*args, **kwargs):
        raise RuntimeError("fold failed")

    def progress(fraction, message):
        if "fold" in message:
            raise RuntimeError("cancelled")

    if fail_in == "cv":
        monkeypatch.setattr(training, "fit_head", boom)
    with threadpool_limits(limits=2):
        before = counts()
        assert before and all(n == 2 for n in before.values())
        with pytest.raises(RuntimeError):
            train(small_data, TrainConfig(model="logreg", name="lr"), tmp_path, save=False,
                  progress=progress if fail_in == "cancel" else None)
        assert counts() == before


def test_char_wb_ngrams_match_sklearn_and_union_reloads(small_data):
    """Our char_wb 2-5 TF-IDF equals sklearn's TfidfVectorizer(analyzer="char_wb") on the same
    tokens, and a word + char union saved as json + idf reloads to the same rows."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from core.emotions.features import UnionFeatures, build_features, features_from_saved

    docs = [["i", "am", "sooo", "happy"], ["not_happy", "a"], ["a", "sad", "day"]]
    ours = TfidfFeatures(ngram_max=5, ngram_min=2, analyzer="char_wb").fit(docs)
    ref = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                          lowercase=False).fit([" ".join(d) for d in docs])
    assert ours.vocabulary == sorted(ref.vocabulary_)
    cols = [ref.vocabulary_[t] for t in ours.vocabulary]
    assert np.allclose(ours.transform(docs).toarray(),
                       ref.transform([" ".join(d) for d in docs]).toarray()[:, cols])
    union = build_features("logreg").fit(docs)
    assert isinstance(union, UnionFeatures)
    assert [p.analyzer for p in union.parts] == ["word", "char_wb"]
    assert "ppy " in union.vocabulary and "happy" in union.vocabulary   # char min_df=2
    again = features_from_saved(union.to_json(), union.idf)
    assert np.allclose(again.transform(docs).toarray(), union.transform(docs).toarray())
    assert isinstance(build_features("random_forest"), TfidfFeatures)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_calibrated_svc_matches_sklearn_and_sums_to_one(small_data, n_classes):
    """Our temperature-scaled SVC predicts sklearn's probabilities; calibration keeps every
    prediction of the plain SVC (one temperature for all classes); the old sigmoid head
    still matches sklearn for models saved with it."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    X, y = _xy(small_data)
    y = y if n_classes == 3 else (y == 1).astype(int)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    ref = CalibratedClassifierCV(LinearSVC(C=0.3), method="temperature", cv=folds,
                                 ensemble=False).fit(X, y)
    head = classical.TemperatureHead.from_sklearn(ref, n_classes)
    proba = head.predict_proba(X)
    assert np.allclose(proba, ref.predict_proba(X))
    assert np.allclose(proba.sum(axis=1), 1.0) and proba.min() >= 0
    plain = LinearSVC(C=0.3).fit(X, y)
    assert (proba.argmax(1) == plain.predict(X)).all()
    assert head.beta > 0 and not np.allclose(proba, classical.softmax(
        np.asarray(X @ head.coef.T) + head.intercept if n_classes == 3 else
        np.hstack([-(X @ head.coef.T + head.intercept), X @ head.coef.T + head.intercept])))
    again = classical.head_from_arrays(head.meta(), head.arrays())
    assert np.allclose(again.predict_proba(X), proba)
    ours, info = classical.fit_svc(X, y, n_classes, seed=0)
    assert info["C"] in classical.SVC_GRID["C"] and info["calibration"] == "temperature"
    assert np.allclose(ours.predict_proba(X).sum(axis=1), 1.0)
    sig = CalibratedClassifierCV(LinearSVC(C=0.3), method="sigmoid", cv=folds).fit(X, y)
    assert np.allclose(classical.CalibratedHead.from_sklearn(sig, n_classes).predict_proba(X),
                       sig.predict_proba(X))


def test_stacking_matches_sklearn_stacking_classifier(small_data):
    """Our saved stack (LR, calibrated SVC, complement NB -> LR) predicts exactly like the
    fitted scikit-learn StackingClassifier it came from."""
    from sklearn import ensemble

    fitted = {}
    real = ensemble.StackingClassifier

    class Spy(real):
        def fit(self, *a, **k):
            fitted["stack"] = super().fit(*a, **k)
            return fitted["stack"]

    X, y = _xy(small_data)
    ensemble.StackingClassifier = Spy
    try:
        head, info = classical.fit_stacking(X, y, 3, seed=0)
    finally:
        ensemble.StackingClassifier = real
    assert set(info["bases"]) == {"logreg", "linear_svc", "complement_nb"}
    assert np.allclose(head.predict_proba(X), fitted["stack"].predict_proba(X))
    again = classical.head_from_arrays(head.meta(), head.arrays())
    assert np.allclose(again.predict_proba(X), head.predict_proba(X))


def test_hyperparameters_are_searched_on_the_training_split_only(small_data, tmp_path,
                                                                   monkeypatch):
    """Every fit that chooses (the searched one, then the CV folds) sees training rows only:
    the held-out 20% never reaches a search, and the folds reuse the chosen hyperparameters.
    Only then is the saved model refit on every row, with those hyperparameters."""
    from core.emotions import training

    seen, given = [], []
    real = training.fit_head

    def spy(model, X, y, n_classes, seed, oversample, params=None):
        seen.append(X.shape[0])
        given.append(params)
        return real(model, X, y, n_classes, seed, oversample, params)

    monkeypatch.setattr(training, "fit_head", spy)
    result = train(small_data, TrainConfig(model="logreg", name="lr"), tmp_path, save=False)
    n_train = result.report["train_rows"]
    assert seen[0] == n_train and all(n < n_train for n in seen[1:4]) and len(seen) == 5
    assert n_train + result.report["test_rows"] == len(small_data.texts) == seen[4]
    chosen = result.model.info["params"]
    assert given[0] is None and given[1:] == [chosen] * 4
    assert result.model.info["train"]["refit_rows"] == len(small_data.texts)
