"""Fixtures for the emotion tests: a small labelled set and a tiny BERT classifier base."""

from __future__ import annotations

import random

import pytest

from core.emotions.datasets import LabelledData

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
    """A callable labels -> (model, tokenizer): 2-layer BERT, hidden 32, real MiniLM tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    def build(labels: list[str]):
        torch.manual_seed(0)
        config = BertConfig(vocab_size=tiny_tokenizer.vocab_size, hidden_size=32,
                            num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            max_position_embeddings=128, num_labels=len(labels),
                            id2label=dict(enumerate(labels)),
                            label2id={lab: i for i, lab in enumerate(labels)})
        return BertForSequenceClassification(config), tiny_tokenizer

    return build


@pytest.fixture(scope="session")
def tiny_sentence_encoder(tiny_tokenizer, tmp_path_factory):
    """A sentence-transformers encoder over a 1-layer BERT (hidden 32) built from a config:
    mean pooling + normalisation, the real MiniLM tokenizer."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-sentence-bert")
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tiny_tokenizer.vocab_size, hidden_size=32,
                         num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=128)).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    word = models.Transformer(str(folder), max_seq_length=64)
    pool = models.Pooling(word.get_word_embedding_dimension(), "mean")
    return SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")
