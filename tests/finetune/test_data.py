"""Training data: paraphrase transformations, QA train-split enforcement, label masking."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.finetune.data import (
    IGNORE_INDEX,
    SourceChunk,
    TrainExample,
    chunk_examples,
    collate,
    encode_causal,
    encode_seq2seq,
    paraphrase_examples,
    qa_examples,
)
from core.finetune.paraphrase import (
    keeps_facts,
    split_sentences,
    template_paraphrases,
)
from core.qa import QAItem

TEXT = "Ada Moreno founded Orbis in 1998. The company sells maps. Its office is in Lyon."


def test_split_sentences_keeps_abbreviations_with_lowercase_follow():
    assert split_sentences("Hi there. It is 5 p.m. now. Yes!") == [
        "Hi there.", "It is 5 p.m. now.", "Yes!"]


def test_template_paraphrases_keep_every_sentence_and_differ():
    variants = template_paraphrases(TEXT, "company_history.md", 3, seed=1)
    assert len(variants) == 3 and len(set(variants)) == 3
    assert all(v != TEXT for v in variants)
    assert variants[0].startswith("From company history: ")
    assert "According to company history, the company sells maps." in variants[1] or (
        "the company sells maps" in variants[1])
    assert variants[2].startswith("Key facts from company history:\n- Its office is in Lyon.")
    for v in variants:  # every fact survives verbatim (names, numbers)
        for fact in ("Ada Moreno founded Orbis in 1998", "sells maps", "Lyon"):
            assert fact in v


def test_template_paraphrases_are_deterministic():
    assert template_paraphrases(TEXT, "d.md", 4, seed=7) == template_paraphrases(
        TEXT, "d.md", 4, seed=7)


def test_restate_keeps_proper_noun_capitalised():
    variant = template_paraphrases("Ada Moreno founded Orbis.", "h.md", 2)[1]
    assert "Ada Moreno" in variant


@pytest.mark.parametrize(("rewording", "ok"), [
    ("In 1998 Ada Moreno started Orbis. It sells maps; its office is in Lyon.", True),
    ("Ada Moreno started Orbis in 1999, selling maps from an office in Lyon.", False),
    ("In 1998 Ms Moreno started Orbis. It sells maps; its office is in Lyon.", False),
    ("Orbis.", False),
])
def test_keeps_facts_filters_generator_rewordings(rewording, ok):
    assert keeps_facts(TEXT, rewording) is ok


def test_paraphrase_examples_count_and_kinds():
    chunks = [SourceChunk("a.md", TEXT), SourceChunk("b.md", "One fact. Two facts.")]
    examples = paraphrase_examples(chunks, 3, rewordings={0: ["A reworded text about 1998."]})
    assert len(examples) == 2 * (1 + 3)
    kinds = [e.kind for e in examples]
    assert kinds.count("chunk") == 2 and kinds.count("generated-paraphrase") == 1
    assert kinds.count("template-paraphrase") == 5


def test_chunk_examples_skip_blank():
    assert chunk_examples([SourceChunk("a", " "), SourceChunk("b", "x")]) == [
        TrainExample("", "x", "chunk")]


def _item(split: str) -> QAItem:
    return QAItem("Who founded Orbis?", "Ada Moreno", (), (), "h.md", split)


def test_qa_examples_refuse_test_split(tiny_tokenizer):
    with pytest.raises(UserError, match="test-split"):
        qa_examples([_item("train"), _item("test")], tiny_tokenizer, is_seq2seq=False)
    with pytest.raises(UserError, match="no train-split"):
        qa_examples([], tiny_tokenizer, is_seq2seq=False)
    examples = qa_examples([_item("train")], tiny_tokenizer, is_seq2seq=False,
                           question_prompt=lambda q: f"Question: {q}")
    assert examples == [TrainExample("Question: Who founded Orbis?", "Ada Moreno", "qa")]


def test_supervised_labels_cover_only_the_answer(tiny_tokenizer):
    ids = lambda t: tiny_tokenizer(t, add_special_tokens=False)["input_ids"]  # noqa: E731
    [feat] = encode_causal(TrainExample("who founded orbis?", "ada moreno"), tiny_tokenizer, 64)
    prompt, answer = ids("who founded orbis?"), [*ids("ada moreno"), tiny_tokenizer.sep_token_id]
    assert feat["input_ids"] == prompt + answer
    assert feat["labels"] == [IGNORE_INDEX] * len(prompt) + answer


def test_long_unsupervised_text_becomes_windows(tiny_tokenizer):
    text = " ".join(f"word{i}" for i in range(200))
    feats = encode_causal(TrainExample("", text), tiny_tokenizer, 32)
    total = len(tiny_tokenizer(text, add_special_tokens=False)["input_ids"]) + 1
    assert sum(len(f["input_ids"]) for f in feats) == total  # nothing dropped
    assert all(len(f["input_ids"]) <= 32 for f in feats)
    assert all(f["labels"] == f["input_ids"] for f in feats)


def test_seq2seq_chunk_predicts_second_half(tiny_tokenizer):
    [feat] = encode_seq2seq(TrainExample("", "First part. Second part."), tiny_tokenizer, 64)
    decode = lambda i: tiny_tokenizer.decode(i, skip_special_tokens=True)  # noqa: E731
    assert decode(feat["input_ids"]) == "first part."
    assert decode(feat["labels"]) == "second part."


def test_collate_pads_ids_and_labels():
    batch = collate([{"input_ids": [5, 6, 7], "labels": [5, 6, 7]},
                     {"input_ids": [8], "labels": [8]}], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[5, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]


class CannedGenerator:
    """Returns queued rewordings in order (stands in for the generator's .generate)."""

    def __init__(self, texts):
        self.texts, self.prompts = list(texts), []

    def generate(self, prompt, config):
        from types import SimpleNamespace

        self.prompts.append((prompt, config))
        return SimpleNamespace(text=self.texts.pop(0))


def test_generator_paraphrases_keep_faithful_ones_and_count_rejects():
    from core.finetune.paraphrase import GENERATOR_PROMPT, generator_paraphrases

    gen = CannedGenerator(["In 1998 Ada Moreno started Orbis; it sells maps from Lyon.",
                           "Orbis sells maps.",  # the year 1998 is lost: rejected
                           "The second chunk, reworded, still has no numbers at all.",
                           "x"])  # shorter than a third of the original: rejected
    made = generator_paraphrases(gen, [TEXT, "Second chunk without numbers at all."], 2)
    assert (made.accepted, made.rejected) == (2, 2)
    assert made.rewordings == {
        0: ["In 1998 Ada Moreno started Orbis; it sells maps from Lyon."],
        1: ["The second chunk, reworded, still has no numbers at all."]}
    assert gen.prompts[0][0] == GENERATOR_PROMPT.format(text=TEXT)
    assert gen.prompts[0][1].temperature > 0  # sampled, so rewordings differ
