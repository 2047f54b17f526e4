"""The knowledge recipe: answer-like spans, wordings that keep every number, derived questions
asked like the fine-tuned mode asks, held-out questions never trained on, test items never
used."""

from __future__ import annotations

import re

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


def test_every_derived_wording_keeps_every_number_of_its_source():
    data = _examples(wordings=3)
    sentences = fact_sentences(DOC)
    doc_numbers = set(NUMBER.findall(DOC))
    kinds = set()
    for ex in data.train + data.held_out:
        kinds.add(ex.kind)
        text = ex.prompt + " " + ex.target
        if ex.kind in ("chunk", "template-paraphrase"):
            assert set(NUMBER.findall(ex.target)) == doc_numbers, ex
        elif ex.kind in ("cloze", "cloze-with-context"):
            quoted = re.search(r"\u201c(.*)\u201d", ex.prompt).group(1)
            source = quoted.replace("____", ex.target, 1)
            assert source in sentences, (source, ex)
            assert set(NUMBER.findall(source)) <= set(NUMBER.findall(text))
        else:
            assert ex.kind == "recall" and ex.target in sentences
    assert {"chunk", "template-paraphrase", "cloze", "cloze-with-context", "recall"} <= kinds


def test_derived_questions_are_asked_like_the_fine_tuned_mode():
    data = _examples()
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
