"""The knowledge recipe: answer-like spans, wordings that keep every number, derived questions
asked like the fine-tuned mode asks, held-out questions never trained on, test items never
used."""

from __future__ import annotations

import re

import pytest

from core.finetune.contrastive import Fact, contrastive_examples, look_alikes, wh_question
from core.finetune.data import SourceChunk
from core.finetune.recipe import Recipe, fact_sentences, key_spans, knowledge_examples
from core.qa import QAItem

DOC = ("The Kelsholm ferry MV Tern Carrier sails at 07:40 and 16:15 from Marram Quay.\n"
       "A return ticket costs £12.50 for adults; children under 5 travel free.\n\n"
       "Fares:\n- Bicycle: £3\n- Car up to 5 metres: £41.80\n\n"
       "The harbour master, Ines Calloway, has run the quay since 2019. The waiting room "
       "opens 30 minutes before each sailing and\nholds 48 people.")
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")


def _examples(**kwargs):
    chunk = SourceChunk("ferry-service.txt", DOC)
    return knowledge_examples([chunk], None, is_seq2seq=True, recipe=Recipe(**kwargs),
                              question_prompt=lambda q: f"Q: {q}",
                              context_prompt=lambda q, c: f"{c.text}\nQ: {q}")


def test_key_spans_find_numbers_with_units_names_and_codes():
    assert key_spans("The station opened in 2011 on Gannet Skerry, 7.3 km offshore.") == [
        "2011", "Gannet Skerry", "7.3 km"]
    assert "Ines Calloway" in key_spans("The harbour master, Ines Calloway, has run it.")
    assert "MV Tern Carrier" in key_spans("The ferry MV Tern Carrier sails daily.")
    assert key_spans("nothing to ask here.") == []


def test_fact_sentences_split_lists_but_not_wrapped_prose():
    sentences = fact_sentences(DOC)
    assert "- Bicycle: £3" in sentences or "Bicycle: £3" in sentences
    assert any(s.startswith("The waiting room opens 30 minutes") and s.endswith("48 people.")
               for s in sentences)  # the line break inside the sentence did not cut it


def _source_of(ex, sentences: list[str]) -> str:
    """The sentence a question-like example was derived from (its span put back)."""
    if ex.kind in ("wh-question", "question-with-context"):
        found = [s for s in sentences if ex.target in s and wh_question(s, ex.target) in ex.prompt]
        assert found, ex
        return found[0]
    quoted = re.search(r"\u201c(.*)\u201d", ex.prompt).group(1)
    return quoted.replace("____", ex.target, 1)


@pytest.mark.parametrize("recipe", ["classic", "full"])
def test_every_derived_wording_keeps_every_number_of_its_source(recipe):
    data = _examples(wordings=3, full=recipe == "full")
    sentences = fact_sentences(DOC)
    doc_numbers = set(NUMBER.findall(DOC))
    kinds = set()
    for ex in data.train + data.held_out:
        kinds.add(ex.kind)
        text = ex.prompt + " " + ex.target
        if ex.kind in ("chunk", "template-paraphrase"):
            assert set(NUMBER.findall(ex.target)) == doc_numbers, ex
        elif ex.kind in ("cloze", "cloze-with-context", "contrastive", "wh-question",
                         "question-with-context"):
            source = _source_of(ex, sentences)
            assert source in sentences, (source, ex)
            assert set(NUMBER.findall(source)) <= set(NUMBER.findall(text))
        elif ex.kind in ("contrast-statement", "relation"):
            quoted = [s for s in sentences if s in ex.target]
            assert len(quoted) == 2, ex  # both source sentences, whole
            assert set(NUMBER.findall(" ".join(quoted))) <= set(NUMBER.findall(text))
        else:
            assert ex.kind == "recall" and ex.target in sentences
    common = {"chunk", "template-paraphrase", "cloze", "recall"}
    extra = ({"wh-question", "question-with-context", "contrastive", "contrast-statement",
              "relation"} if recipe == "full" else {"cloze-with-context"})
    assert common | extra == kinds


def test_look_alikes_pair_values_of_one_shape_and_names_of_one_length():
    facts = [Fact("wiki", "Use PEG-EQ-012 for lysis.", "PEG-EQ-012"),
             Fact("wiki", "PEG-EQ-021 is the sonicator.", "PEG-EQ-021"),
             Fact("sop", "Spin at 18,000 x g.", "18,000 x g"),
             Fact("sop", "Pellet cells at 12,000 x g.", "12,000 x g"),
             Fact("sop", "Charge PEG-4471.", "PEG-4471"),
             Fact("sop", "Not CVB-4471.", "CVB-4471"),
             Fact("wiki", "Meets on Tuesday.", "Tuesday")]
    alike = look_alikes(facts)
    assert [o.span for o in alike[facts[0]]] == ["PEG-EQ-021"]
    assert [o.span for o in alike[facts[2]]] == ["12,000 x g"]
    assert "CVB-4471" in [o.span for o in alike[facts[4]]]  # same digits, other letters
    assert facts[6] not in alike  # the only one-word name


def test_contrastive_examples_name_the_value_and_its_look_alike_as_different():
    facts = [Fact("wiki", "Use PEG-EQ-012 for lysis.", "PEG-EQ-012"),
             Fact("wiki", "PEG-EQ-021 is the sonicator.", "PEG-EQ-021")]
    examples = contrastive_examples(facts, lambda q: f"Q: {q}")
    question = next(e for e in examples if e.kind == "contrastive" and e.target == "PEG-EQ-012")
    assert "Use ____ for lysis." in question.prompt
    assert "PEG-EQ-012" in question.prompt and "PEG-EQ-021" in question.prompt
    statement = next(e for e in examples if e.kind == "contrast-statement"
                     and e.target.startswith("In wiki: Use PEG-EQ-012"))
    assert not statement.prompt
    assert "PEG-EQ-012, not PEG-EQ-021" in statement.target
    assert statement.target.endswith("PEG-EQ-021 is the sonicator.")  # its own subject


@pytest.mark.parametrize(("sentence", "span", "expected"), [
    ("The lab meets on Tuesday.", "Tuesday", "The lab meets on what?"),
    ("The station opened in 2011 on Gannet Skerry.", "2011",
     "The station opened in which year on Gannet Skerry?"),
])
def test_wh_question_asks_for_the_span(sentence, span, expected):
    assert wh_question(sentence, span) == expected


def test_full_recipe_asks_with_evidence_the_way_the_rag_mode_does():
    """Evidence = the fact's own sentence, in the context prompt; ``context_share`` of the
    question-shaped clozes get one (0 and 1 are none and all)."""
    sentences = fact_sentences(DOC)
    none = _examples(full=True, context_share=0.0).counts().get("question-with-context", 0)
    every = _examples(full=True, context_share=1.0).counts()
    assert none == 0 and every["question-with-context"] == every["wh-question"]
    ex = next(e for e in _examples(full=True).train if e.kind == "question-with-context")
    passage = ex.prompt.split("\nQ: ")[0]
    assert passage in sentences and ex.target in passage


@pytest.mark.parametrize("full", [False, True])
def test_no_test_question_is_trained_on_verbatim(full):
    test_items = [QAItem("When does the first ferry sail?", "07:40", split="test",
                         source="ferry-service.txt"),
                  QAItem("Who is the harbour master?", "Ines Calloway", split="dev",
                         source="ferry-service.txt")]
    chunk = SourceChunk("ferry-service.txt", DOC)
    data = knowledge_examples([chunk], None, is_seq2seq=True, recipe=Recipe(full=full),
                              question_prompt=lambda q: q, qa_items=test_items,
                              context_prompt=lambda q, c: f"{c.text}\nQ: {q}")
    texts = [e.prompt + "\n" + e.target for e in data.train + data.held_out]
    assert not [q.question for q in test_items if any(q.question in t for t in texts)]


def test_derived_questions_are_asked_like_the_fine_tuned_mode():
    data = _examples(full=False)
    cloze = next(ex for ex in data.train if ex.kind == "cloze")
    assert cloze.prompt.startswith("Q: In ferry service:") and cloze.prompt.endswith(
        "What goes in the blank?")
    with_context = next(ex for ex in data.train if ex.kind == "cloze-with-context")
    assert with_context.prompt.split("\nQ: ")[0] in DOC.replace("\n", " ") or "\n" in \
        with_context.prompt  # the passage first, then the question, as RAG asks


def test_held_out_questions_are_never_trained_on():
    data = _examples()
    assert len(data.held_out) >= 4
    assert not {(e.prompt, e.target) for e in data.held_out} & {
        (e.prompt, e.target) for e in data.train}
    assert data.counts()["held_out"] == len(data.held_out)


def test_train_split_questions_of_these_documents_only_and_never_test_ones():
    items = [QAItem("When does the first ferry sail?", "07:40", split="train",
                    source="ferry-service.txt"),
             QAItem("What does a bicycle cost?", "£3", split="test",
                    source="ferry-service.txt"),
             QAItem("Who runs another place?", "Someone", split="train", source="other.md")]
    chunk = SourceChunk("ferry-service.txt", DOC)
    data = knowledge_examples([chunk], None, is_seq2seq=True, recipe=Recipe(),
                              question_prompt=lambda q: q, qa_items=items)
    qa = [e for e in data.train if e.kind == "qa"]
    assert [(e.prompt, e.target) for e in qa] == [("When does the first ferry sail?", "07:40")]


def test_knowledge_is_the_default_and_runs_end_to_end(tiny_env):
    from core.adapters import AdapterRegistry
    from core.finetune.config import LoraSettings
    from core.finetune.pipeline import run_finetune

    assert LoraSettings().data_mode == "knowledge" and LoraSettings().epochs == 0
    summary = run_finetune(tiny_env, "mini", "recipe", LoraSettings(epochs=2, batch_size=2))
    meta = AdapterRegistry.of(tiny_env).metadata("recipe")
    assert meta["data"]["recipe"] == "knowledge" and meta["data"]["kinds"]["cloze"] > 0
    assert len(summary["held_out_losses"]) == summary["epochs"] + 1 == 3
    assert meta["packed_rows"] > 0 and meta["precision"] in ("bf16", "fp32")
