"""The emoji-prediction features: the real offline predictor (nade's 13 MB fastText model),
what it reads, how the TF-IDF models carry it, save, reload and refuse."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.emotions import emoji_signal as es
from core.emotions.config import TrainConfig
from core.emotions.emoji_signal import load_emoji_predictor
from core.emotions.models_store import load_model
from core.emotions.training import train
from core.errors import UserError
from core.memo import forget

# Train and test tweets share no content word: only what the predictor knows can carry over.
TRAIN = {
    "anger": ["I am so angry right now", "this makes me furious", "I hate this so much",
              "stop lying to me, I'm livid", "so mad at my brother", "what a stupid rule"],
    "joy": ["best day ever!", "we won the game, so happy", "love this song so much",
            "yay finally friday", "this made me smile all day", "so much fun with friends"],
    "sadness": ["I miss her so much", "rip grandpa, heartbroken", "crying myself to sleep",
                "feeling so lonely lately", "my dog passed away today", "i feel empty"],
}
TEST = {
    "anger": ["my blood is boiling", "absolutely disgusted by their rudeness",
              "get out of my face, idiot"],
    "joy": ["wonderful news about the baby!!", "celebrating with the whole family",
            "laughing so hard right now"],
    "sadness": ["tears won't stop", "nobody cares about me", "lost my job, devastated"],
}


REAL = pytest.mark.slow  # reads the real predictor (151 emoji): the fast tier has a tiny one


@pytest.fixture(scope="module")
def signal():
    return load_emoji_predictor(es.BUILTIN)


@REAL
def test_predictor_reads_emotion_from_words(signal):
    top = {text: [e for e, _ in signal.top(text, 5)] for text in
           ("RIP grandpa, I miss you", "I am so angry right now", "lol that is hilarious")}
    assert "💔" in top["RIP grandpa, I miss you"] and "😢" in top["RIP grandpa, I miss you"]
    assert "😡" in top["I am so angry right now"]
    assert "😂" in top["lol that is hilarious"]


@REAL
def test_block_shape_scale_and_newlines(signal):
    block = signal.transform(["line one\nline two", "ok", ""])
    p = signal.probabilities(["line one\nline two", "ok", ""])
    assert block.shape == (3, 151) and len(signal.labels) == 151 == len(set(signal.emoji))
    assert np.allclose(block, np.sqrt(p)) and (p >= 0).all() and (p <= 1).all()
    norms = np.linalg.norm(block, axis=1)
    assert ((norms > 0.3) & (norms < 2.0)).all()      # the scale of a unit TF-IDF block
    assert signal.transform([]).shape == (0, 151)


def test_nade_preprocessing_matches_its_training_text():
    assert es.nade_preprocess(["Wow!!This &amp; that\nOK", "  a,b  "]) == [
        "wow !! this & that ok", "a , b"]


@REAL
def test_the_block_alone_carries_emotion_to_unseen_words(signal):
    """A linear head on the 151 emoji features only: 7 of 9 unseen tweets measured, chance 3."""
    from sklearn.linear_model import LogisticRegression

    labels = list(TRAIN)
    head = LogisticRegression(C=10, max_iter=2000).fit(
        signal.transform([t for lab in labels for t in TRAIN[lab]]),
        [lab for lab in labels for _ in TRAIN[lab]])
    predicted = head.predict(signal.transform([t for lab in labels for t in TEST[lab]]))
    truth = [lab for lab in labels for _ in TEST[lab]]
    assert sum(p == t for p, t in zip(predicted, truth, strict=True)) >= 6


@REAL
@pytest.mark.parametrize("model", ["logreg", "stacking"])
def test_tfidf_models_append_the_block_save_and_reload(model, small_data, tmp_path):
    on = train(small_data, TrainConfig(model=model, name=f"on-{model}"), tmp_path)
    off = train(small_data, TrainConfig(model=model, name=f"off-{model}",
                                        emoji_features=False), tmp_path)
    texts = small_data.texts[:20]
    assert on.model.prepare(texts).shape[1] == len(on.model.features.vocabulary) + 151
    assert off.model.prepare(texts).shape[1] == len(off.model.features.vocabulary)
    assert on.model.info["emoji_features"] and not off.model.info["emoji_features"]
    folder = tmp_path / "emotion_models"
    saved = json.loads((folder / f"on-{model}" / "settings.json").read_text())
    assert saved["emoji_signal"]["labels"] == load_emoji_predictor(es.BUILTIN).labels
    assert "emoji_signal" not in json.loads((folder / f"off-{model}" / "settings.json")
                                            .read_text())
    for name, result in ((f"on-{model}", on), (f"off-{model}", off)):
        assert np.allclose(load_model(name, tmp_path).predict_proba(texts),
                           result.model.predict_proba(texts))


def test_hybrid_tfidf_member_gets_the_block(small_data, tiny_sentence_encoder, tmp_path):
    result = train(small_data, TrainConfig(model="hybrid", name="hy"), tmp_path, save=False,
                   encoder=tiny_sentence_encoder)
    words = result.model.head.members[0]
    assert words.kind == "logreg" and words.emoji_signal is not None
    assert result.model.head.members[1].emoji_signal is None


def test_model_from_another_predictor_is_refused(small_data, tmp_path):
    train(small_data, TrainConfig(model="linear_svc", name="svc"), tmp_path)
    path = tmp_path / "emotion_models" / "svc" / "settings.json"
    settings = json.loads(path.read_text())
    settings["emoji_signal"]["labels"] = settings["emoji_signal"]["labels"][::-1]
    path.write_text(json.dumps(settings))
    with pytest.raises(UserError, match="different emoji predictor"):
        load_model("svc", tmp_path)


def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"nade.*emoji features off"):
        es._package_dir()


@REAL
def test_a_configured_fasttext_file_is_used_and_recorded(small_data, tmp_path):
    """NLPLAB_EMOJI_MODEL as a path: a copy of the model without nade's emoji index names
    its labels by themselves; a saved model records the spec and reloads with it."""
    import shutil
    from dataclasses import replace

    from core.settings import Settings

    own = tmp_path / "mine" / "emoji.ftz"
    own.parent.mkdir()
    shutil.copy(es.model_file(es.BUILTIN), own)
    signal = load_emoji_predictor(str(own))
    assert signal.labels == load_emoji_predictor(es.BUILTIN).labels and signal.emoji[0].isdigit()
    builtin = load_emoji_predictor(es.BUILTIN)
    assert np.allclose(signal.transform(["so happy"]), builtin.transform(["so happy"]))
    settings = replace(Settings(data_dir=tmp_path), emoji_model=str(own))
    train(small_data, TrainConfig(model="logreg", name="own"), tmp_path, settings=settings)
    saved = json.loads((tmp_path / "emotion_models" / "own" / "settings.json").read_text())
    assert saved["emoji_signal"]["spec"] == str(own)
    own.unlink()                      # the model needs its own predictor, and says so
    forget("emoji predictor")
    with pytest.raises(UserError, match="not found"):
        load_model("own", tmp_path)


@pytest.mark.parametrize("name, content", [("model.txt", b"x"), ("broken.ftz", b"not a model")])
def test_bad_emoji_model_setting_is_refused(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(UserError, match="emoji model"):
        es.EmojiSignal(str(tmp_path / name))


def test_empty_emoji_model_setting_is_refused(tmp_path):
    from core.settings import Settings

    with pytest.raises(UserError, match="NLPLAB_EMOJI_MODEL must name a model"):
        Settings(data_dir=tmp_path, emoji_model=" ")
