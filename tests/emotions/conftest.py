"""Fixtures for the emotion tests: a small labelled set and a tiny BERT classifier base."""

from __future__ import annotations

import random

import pytest

from core.emotions.datasets import LabelledData
from tests.tiny_models import save_tiny_model, tiny_model

VOCAB = {
    "joy": "happy great fun yay smile sunshine party win",
    "sadness": "sad cry miss alone tears lost sorry gone",
    "anger": "angry hate mad furious annoying rage stupid unfair",
}


@pytest.fixture(scope="session")
def small_data() -> LabelledData:
    """90 synthetic tweets, 3 separable emotions, imbalanced 40/35/15, with tweet noise."""
    rng = random.Random(0)
    texts, labels = [], []
    for label, words in VOCAB.items():
        n = {"joy": 40, "sadness": 35, "anger": 15}[label]
        for i in range(n):
            body = " ".join(rng.choices(words.split(), k=5))
            texts.append(f"@friend{i} {body} #{label}day http://t.co/{i} 😂 &amp; more")
            labels.append(label)
    return LabelledData(texts, labels)


@pytest.fixture(scope="session")
def tiny_bert_base(tiny_tokenizer):
    """A callable labels -> (model, tokenizer): 2-layer BERT, hidden 32, real MiniLM tokenizer
    (the suite's tiny ``bert-cls``, :mod:`tests.tiny_models`), fresh and trainable each call."""

    def build(labels: list[str]):
        model = tiny_model("bert-cls", tiny_tokenizer, train=True, num_labels=len(labels),
                           id2label=dict(enumerate(labels)),
                           label2id={lab: i for i, lab in enumerate(labels)})
        return model, tiny_tokenizer

    return build


@pytest.fixture(scope="session")
def tiny_sentence_encoder(tiny_tokenizer, tmp_path_factory):
    """A sentence-transformers encoder over a 1-layer tiny BERT (hidden 32): mean pooling +
    normalisation, the real MiniLM tokenizer."""
    from sentence_transformers import SentenceTransformer, models

    folder = save_tiny_model(tmp_path_factory.mktemp("tiny-sentence-bert"), tiny_tokenizer,
                             kind="bert", num_hidden_layers=1)
    word = models.Transformer(str(folder), max_seq_length=64)
    pool = models.Pooling(word.get_word_embedding_dimension(), "mean")
    return SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")
