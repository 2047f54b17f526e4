"""Derived questions: typed values, wordings the recipe never trains on, same-type choices from
the same base with exactly one right answer, review (edit / drop) and bad input."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.experiment import questions as Q
from core.finetune.config import LoraSettings
from core.finetune.data import SourceChunk
from core.finetune.pipeline import build_examples, kb_chunks
from tests.experiment.conftest import DOCS


def chunks():
    return [SourceChunk(name, text) for name, text in DOCS.items()]


@pytest.mark.parametrize(("sentence", "expected"), [
    ("The line opened on 3 April 1994 at 06:40 for £380,000.",
     [("date", "3 April 1994"), ("time", "06:40"), ("money", "£380,000")]),
    ("It was founded in 1952 by Ambrose Fitch and holds 3,400 objects.",
     [("year", "1952"), ("name", "Ambrose Fitch"), ("number", "3,400")]),
    ("Fares rose by 3.1% for unit DMU-141.", [("percent", "3.1%"), ("code", "DMU-141")]),
    ("Call 0341 558 2090 today.", []),  # a phone number is neither a count nor a year
    ("The Salt Museum is open.", [("name", "Salt Museum")]),  # "The" is not part of the name
])
def test_typed_values(sentence, expected):
    assert Q.typed_values(sentence) == expected


@pytest.mark.parametrize(("sentence", "value", "kind", "question"), [
    ("The harbour opened in 1887 after the storm.", "1887", "year",
     "The harbour opened in which year after the storm?"),
    ("Doors open at 10:30 on Sundays.", "10:30", "time", "Doors open at what time on Sundays?"),
    ("The fair was held 3 April 1994 in town.", "3 April 1994", "date",
     "The fair was held on what date in town?"),
    ("A ticket costs £18.50 at the desk.", "£18.50", "money",
     "A ticket costs how much at the desk?"),
    ("The parade starts from the Weavers Hall at dusk.", "Weavers Hall", "name",
     "The parade starts from which name at dusk?"),
])
def test_question_wording_replaces_the_value_with_its_type_phrase(sentence, value, kind,
                                                                   question):
    assert Q.ask(sentence, value, kind) == question


def test_choices_are_four_same_type_values_of_the_same_base_with_one_right_answer():
    items = Q.derive_questions(chunks())
    assert len(items) >= 8 and len({i.id for i in items}) == len(items)
    facts = Q.kb_facts(chunks())
    pools = {}
    for f in facts:
        pools.setdefault(f.kind, set()).add(f.value)
    assert {i.extra["type"] for i in items} >= {"year", "name", "money"}
    for item in items:
        kind, sentence = item.extra["type"], item.extra["sentence"]
        assert len(item.choices) == 4 and len(set(item.choices)) == 4
        assert set(item.choices) <= pools[kind], item  # same type, found in this base
        right = [c for c in item.choices if c.lower() in {g.lower() for g in item.golds}]
        assert right == [item.answer], item  # exactly one right answer
        wrong = [c for c in item.choices if c != item.answer]
        assert not any(w in sentence for w in wrong), item  # no distractor fits the sentence
        assert item.answer in sentence and item.answer not in item.question
        assert item.question.endswith("?") and item.split == "test"
        assert item.source in DOCS and sentence in DOCS[item.source].replace("\n", " ")


def test_no_question_appears_verbatim_in_the_recipes_training_examples(exp_env):
    """The recipe's real examples for the same base (prompts and targets, held-out ones
    included), built by the pipeline's public function with the generator's tokenizer."""
    from core.tokenizer_loader import load_generator_tokenizer

    tokenizer, seq2seq = load_generator_tokenizer(exp_env)
    base_chunks = kb_chunks(exp_env, "exp")
    data = build_examples(exp_env, LoraSettings(), base_chunks, tokenizer, seq2seq)
    texts = [t for ex in [*data.train, *data.held_out] for t in (ex.prompt, ex.target)]
    assert len(texts) > 20
    items = Q.derive_questions(base_chunks)
    assert items
    flat = [" ".join(t.lower().split()) for t in texts]
    for item in items:
        q = " ".join(item.question.lower().split())
        assert not any(q in t for t in flat), item.question
    assert Q.drop_trained(items, texts) == items
    # and the filter does remove a question the training data contains
    planted = [*texts, f"Q: {items[0].question} A: {items[0].answer}"]
    assert Q.drop_trained(items, planted) == items[1:]


def test_questions_are_spread_over_documents_and_capped():
    items = Q.derive_questions(chunks(), max_questions=3)
    assert [i.id for i in items] == ["g1", "g2", "g3"]
    assert len({i.source for i in items}) == 3  # one from each document first


def test_reviewed_rows_come_back_with_edits_and_drops():
    rows = Q.rows(Q.derive_questions(chunks(), max_questions=3))
    rows[0]["drop"] = True
    rows[1]["question"] = "Edited: " + rows[1]["question"]
    items = Q.from_rows(rows)
    assert [i.id for i in items] == [rows[1]["id"], rows[2]["id"]]
    assert items[0].question.startswith("Edited: ") and items[0].extra["type"]


@pytest.mark.parametrize(("change", "message"), [
    ({"answer": ""}, "'answer' must be a non-empty string"),
    ({"choices": ["a", "b"]}, "none of the choices equals the answer"),
    ({"question": "  "}, "'question' must be a non-empty string"),
])
def test_a_bad_edit_is_a_user_error_naming_the_row(change, message):
    rows = Q.rows(Q.derive_questions(chunks(), max_questions=2))
    rows[1].update(change)
    with pytest.raises(UserError, match="question 2"):
        Q.from_rows(rows)
    with pytest.raises(UserError, match=message.replace("'", ".")):
        Q.from_rows(rows)


def test_dropping_every_row_and_a_zero_cap_are_refused():
    rows = [{**r, "drop": True} for r in Q.rows(Q.derive_questions(chunks(), max_questions=2))]
    with pytest.raises(UserError, match="no questions left"):
        Q.from_rows(rows)
    with pytest.raises(UserError, match="max_questions"):
        Q.derive_questions(chunks(), max_questions=0)


def test_a_base_with_too_few_values_of_a_type_yields_no_question():
    few = [SourceChunk("a.md", "The pier opened in 1887 after a storm hit the coast road.")]
    assert Q.derive_questions(few) == []
