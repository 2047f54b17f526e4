"""The one QA loader (core/qa.py): validated items, plain-dict rows, splits."""

from __future__ import annotations

import pytest

from core.errors import UserError
from core.qa import DEFAULT_QA_FILE, load_qa_file, load_qa_rows, parse_qa_text, select_split


def test_rows_are_the_validated_items_as_dicts():
    items = load_qa_file(DEFAULT_QA_FILE)
    assert load_qa_rows() == [item.to_dict() for item in items]
    assert load_qa_rows(split="test") == [i.to_dict() for i in select_split(items, "test")]


def test_rows_of_a_missing_file_are_empty(tmp_path):
    assert load_qa_rows(tmp_path / "absent.jsonl") == []


def test_a_bad_line_is_named():
    text = '{"question": "Q?", "answer": "A"}\n\n{"question": "", "answer": "A"}\n'
    with pytest.raises(UserError, match=r"up\.jsonl line 3: 'question'"):
        parse_qa_text(text, "up.jsonl")


def test_ids_default_to_the_line_number():
    items = parse_qa_text('\n{"question": "Q?", "answer": "A", "split": "train"}\n')
    assert (items[0].id, items[0].split) == ("q2", "train")
