"""Knowledge distillation from the TF-IDF teacher into the fine-tuned transformer."""

from __future__ import annotations

import numpy as np
import pytest

from core.emotions import distill
from core.emotions.datasets import stratified_split
from core.emotions.distill import TfidfTeacher
from core.emotions.training import TrainConfig, train
from core.emotions.transformer import TransformerConfig, fine_tune
from core.errors import UserError


def _random_label_rows(n: int = 120, seed: int = 0):
    """Each row: one token no other row has, and a coin-flip label (nothing to learn)."""
    rng = np.random.default_rng(seed)
    return [[f"unique{i}", "filler"] for i in range(n)], rng.integers(0, 2, n)


def test_each_row_is_predicted_by_a_teacher_that_never_saw_it():
    """Fitted on its own rows, a regression memorises the unique tokens (its probability of
    the coin-flip label is high); out of fold it cannot, so it stays near chance."""
    from sklearn.linear_model import LogisticRegression

    from core.emotions.features import build_features

    tokens, y = _random_label_rows()
    rows = np.arange(len(y))
    teacher = TfidfTeacher(tokens, None, y, 2, params={"C": 8.0, "class_weight": None})
    soft = teacher(rows)
    assert soft.shape == (120, 2) and np.allclose(soft.sum(1), 1.0)
    X = build_features("logreg", 1).fit(tokens).transform(tokens)
    in_sample = LogisticRegression(C=8.0, max_iter=3000).fit(X, y).predict_proba(X)
    assert in_sample[rows, y].mean() > 0.75
    assert soft[rows, y].mean() < 0.55
    assert teacher.report["used"] and teacher.report["folds"] == distill.FOLDS


def test_the_teacher_carries_the_words_signal_and_caches_per_row_set():
    words = {0: "happy yay smile", 1: "sad cry tears"}
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    tokens = [[*words[int(c)].split()[:2], f"noise{i % 7}"] for i, c in enumerate(y)]
    teacher = TfidfTeacher(tokens, None, y, 2)
    rows = np.arange(0, 100, 2)
    soft = teacher(rows)
    assert (soft.argmax(1) == y[rows]).mean() > 0.95
    assert teacher.report["teacher_oof_macro_f1"] > 0.95
    assert set(teacher.params) == {"C", "class_weight"}          # chosen by the CV search
    again = teacher(np.concatenate([rows, rows[:3]]))           # oversampling repeats rows
    assert np.array_equal(again[:50], soft) and np.array_equal(again[50:], soft[:3])


def test_given_params_skip_the_search_and_too_few_rows_give_no_targets(monkeypatch):
    import core.emotions.classical as classical

    monkeypatch.setattr(classical, "fit_logreg", lambda *a, **k: pytest.fail("searched"))
    tokens, y = _random_label_rows(40)
    params = {"C": 0.5, "class_weight": "balanced"}
    teacher = TfidfTeacher(tokens, np.random.default_rng(0).random((40, 151)), y, 3,
                           params=params)
    soft = teacher(np.arange(40))
    assert soft.shape == (40, 3) and np.all(soft[:, 2] == 0)    # a class with no rows: 0
    assert teacher.report["params"] == params and "emoji" in teacher.report["teacher"]
    assert TfidfTeacher(tokens, None, np.array([0] * 39 + [1]), 2)(np.arange(40)) is None


def test_the_hybrid_teacher_averages_the_tfidf_and_sentence_regressions_out_of_fold():
    """Words carry no signal (coin flips on unique tokens), the sentence vectors do: the
    average is the two out-of-fold probabilities 1/2 each, and it learns the label from the
    embeddings that the TF-IDF regression alone could not."""
    tokens, y = _random_label_rows(120)
    rng = np.random.default_rng(3)
    sentence = np.column_stack([y * 2.0 - 1.0, rng.normal(size=(120, 3))])
    rows = np.arange(120)
    tfidf_params = {"C": 1.0, "class_weight": None}
    words_only = TfidfTeacher(tokens, None, y, 2, params=tfidf_params)(rows)
    teacher = TfidfTeacher(tokens, None, y, 2, params=tfidf_params, sentence=sentence)
    soft = teacher(rows)
    sentence_only = 2 * soft - words_only
    assert np.allclose(soft.sum(1), 1.0) and np.all(sentence_only >= -1e-9)
    assert (sentence_only.argmax(1) == y).mean() > 0.95        # the embeddings' own fold
    report = teacher.report
    assert report["members_oof_macro_f1"]["sentence"] > 0.95
    assert report["members_oof_macro_f1"]["tfidf"] < 0.7
    assert report["teacher_oof_macro_f1"] > 0.9 and "sentence" in report["teacher"]
    assert set(report["sentence_params"]) == {"C", "class_weight"}   # its own search
    assert teacher.sentence_params == report["sentence_params"]


def test_train_with_the_hybrid_teacher_searches_both_regressions_once_refit_reuses_them(
        small_data, tiny_bert_base, tiny_sentence_encoder, tmp_path, monkeypatch):
    import core.emotions.classical as classical

    searches = []
    real = classical.fit_logreg
    monkeypatch.setattr(classical, "fit_logreg",
                        lambda *a, **k: searches.append(k.get("params")) or real(*a, **k))
    config = TransformerConfig(epochs=1, batch_size=16, ensemble_size=1, bf16="off")
    result = train(small_data, TrainConfig(model="transformer", name="kdh", teacher="hybrid"),
                   tmp_path, base=tiny_bert_base, transformer=config, save=False,
                   encoder=tiny_sentence_encoder)
    info = result.model.info["distill"]
    assert info["used"] and "sentence embeddings" in info["teacher"]
    assert set(info["members_oof_macro_f1"]) == {"tfidf", "sentence"}
    assert searches == [None, None]         # first fit: two searches; the refit: none


def test_the_teacher_sees_only_the_training_rows_and_its_targets_move_the_student(
        small_data, tiny_bert_base):
    """Validation rows never reach the teacher; a teacher that always says "anger" pulls the
    student towards anger, and more so the higher its weight."""
    labels = sorted(set(small_data.labels))
    y = np.array([labels.index(lab) for lab in small_data.labels])
    seen = []

    def always_anger(rows):
        seen.append(np.asarray(rows))
        soft = np.zeros((len(rows), len(labels)))
        soft[:, labels.index("anger")] = 1.0
        return soft

    def anger_share(weight: float, val_fraction: float = 0.0) -> float:
        config = TransformerConfig(epochs=4, batch_size=16, learning_rate=2e-3, patience=5,
                                   ensemble_size=1, distill=weight, bf16="off",
                                   val_fraction=val_fraction)
        head, info = fine_tune(small_data.texts, y, labels, config, tiny_bert_base,
                               teacher=always_anger)
        assert info["distill"]["used"] is (weight > 0)
        return float(head.predict_proba(small_data.texts)[:, labels.index("anger")].mean())

    labels_only, distilled = anger_share(0.0), anger_share(0.9)
    assert len(seen) == 1                       # weight 0: the teacher is not asked
    assert distilled > labels_only + 0.2
    anger_share(0.5, val_fraction=0.1)
    tr, va = stratified_split(small_data.labels, 0.1, 0)
    assert sorted(seen[1].tolist()) == sorted(tr.tolist()) and not set(va) & set(seen[1])


def test_train_distils_by_default_and_the_refit_reuses_the_teachers_choice(
        small_data, tiny_bert_base, tmp_path, monkeypatch):
    import core.emotions.classical as classical

    searches = []
    real = classical.fit_logreg
    monkeypatch.setattr(classical, "fit_logreg",
                        lambda *a, **k: searches.append(k.get("params")) or real(*a, **k))
    config = TransformerConfig(epochs=2, batch_size=16, ensemble_size=1, bf16="off")
    assert config.distill == 0.5 and TrainConfig(model="transformer", name="t").distill == 0.5
    result = train(small_data, TrainConfig(model="transformer", name="kd"), tmp_path,
                   base=tiny_bert_base, transformer=config)
    info = result.model.info["distill"]
    assert info["used"] and info["weight"] == 0.5 and info["rows"] == len(small_data.texts)
    assert searches == [None]                   # one search (first fit); the refit reuses it
    assert result.test["macro_f1"] > 0.0


def test_the_hybrids_transformer_member_learns_from_the_labels_alone(small_data,
                                                                      tiny_bert_base, tmp_path):
    """Its partner is the regression already: the member is not distilled from it too."""
    config = TransformerConfig(epochs=1, batch_size=16, ensemble_size=1, bf16="off")
    result = train(small_data, TrainConfig(model="transformer_hybrid", name="th", refit=False),
                   tmp_path, base=tiny_bert_base, transformer=config, save=False)
    member = result.model.head.members[1]
    assert member.kind == "transformer" and member.info["distill"]["used"] is False


def test_an_unknown_teacher_is_refused():
    with pytest.raises(UserError, match="teacher"):
        TrainConfig(model="transformer", name="t", teacher="svc")


@pytest.mark.parametrize("weight", [-0.1, 1.0])
def test_distill_weight_is_validated(weight):
    with pytest.raises(UserError, match="distill"):
        TransformerConfig(distill=weight)
    with pytest.raises(UserError, match="distill"):
        TrainConfig(model="transformer", name="t", distill=weight)
