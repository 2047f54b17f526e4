"""Freshness edits: a new value of the same shape, exactly one value changed in the document,
the document rebuilt from its chunks."""

from __future__ import annotations

import difflib

import pytest

from core.errors import UserError
from core.experiment import freshness as F
from core.qa import QAItem
from tests.experiment.conftest import DOCS


@pytest.mark.parametrize(("old", "kind", "new"), [
    ("1994", "year", "1997"), ("£380,000", "money", "£380,003"), ("06:40", "time", "06:43"),
    ("06:58", "time", "06:01"), ("3 April 1994", "date", "3 April 1997"),
    ("001", "number", "004"), ("3.1%", "percent", "3.4%"),
])
def test_new_value_keeps_the_shape(old, kind, new):
    assert F.new_value(old, kind) == new


def test_the_edit_changes_exactly_one_value():
    text = DOCS["harbour.md"]
    sentence = "The Kestrel Quay harbour opened in 1887 after the old pier collapsed."
    edited = F.edit_document(text, sentence, "1887", "1890")
    changes = [op for op in difflib.SequenceMatcher(None, text, edited).get_opcodes()
               if op[0] != "equal"]
    assert len(changes) == 1 and text.replace("1887", "1890", 1) == edited
    _tag, i1, i2, _j1, _j2 = changes[0]
    at = text.index("1887")
    assert at <= i1 <= i2 <= at + 4  # the change lies inside the one value


def test_the_edit_finds_a_sentence_wrapped_over_lines_and_only_inside_it():
    text = "Built in 1887.\nThe pier opened\nin 1887 after a storm. Later in 1887 it closed."
    edited = F.edit_document(text, "The pier opened in 1887 after a storm.", "1887", "1890")
    assert edited == ("Built in 1887.\nThe pier opened\nin 1890 after a storm. Later in 1887 "
                      "it closed.")
    with pytest.raises(UserError, match="not in its document"):
        F.edit_document(text, "A sentence that is not there.", "1887", "1890")


def test_pick_question_prefers_an_editable_type():
    name = QAItem("Who?", "Ada Moreno", extra={"type": "name", "sentence": "x"})
    year = QAItem("When?", "1994", extra={"type": "year", "sentence": "y"})
    assert F.pick_question([name, year]) is year
    assert F.pick_question([name]) is None


def test_the_document_is_rebuilt_from_its_chunks(exp_env):
    text, fmt = F.document_text(exp_env, "exp", "museum.md")
    assert text == DOCS["museum.md"] and fmt == "md"
    with pytest.raises(UserError, match="no document"):
        F.document_text(exp_env, "exp", "nope.md")


def test_the_edit_reads_through_markdown_emphasis():
    text = "**Fenby Moor** is the highest station, at 312 metres."
    edited = F.edit_document(text, "Fenby Moor is the highest station, at 312 metres.", "312",
                             "315")
    assert edited == "**Fenby Moor** is the highest station, at 315 metres."
