"""Safe highlighting, the default QA set, answer checking and the ratings log."""

import re

import pytest

from core.errors import UserError
from core.qa import load_qa_rows
from core.rag.defaults import DEFAULT_DOCS_DIR, ensure_default_kb, is_correct
from core.rag.highlight import escape_markdown, highlight_markdown, shared_words


def test_shared_words_are_highlighted_case_insensitively():
    out = highlight_markdown("Ilsa Marek planted it in 2011.", "ilsa marek, in 2011")
    assert out == (":orange-background[Ilsa Marek] planted it in "
                   ":orange-background[2011]\\.")


@pytest.mark.parametrize("evil", [
    "![img](http://x/y.png)", "<script>alert(1)</script>", "$E=mc^2$", ":red[boom]",
    "[link](javascript:alert(1))", "**bold** _it_ `code` # heading",
])
def test_markdown_and_html_in_chunks_are_escaped(evil):
    """After removing our own highlight directives, no special character is left unescaped."""
    out = highlight_markdown(evil, "boom alert")
    plain = re.sub(r":orange-background\[(\w+)\]", r"\1", out)
    assert re.search(r"(?<!\\)[!\[\]()<>$:*_`#]", plain) is None, out
    assert "alert" not in evil or ":orange-background[alert]" in out


def test_escape_markdown_roundtrip_characters():
    assert escape_markdown("a*b_c") == "a\\*b\\_c"


def test_stop_words_and_short_words_are_not_highlighted():
    assert shared_words("The answer is in 3 of them") == {"answer", "3"}


def test_default_qa_set_is_usable():
    rows = load_qa_rows()
    assert len(rows) >= 120
    names = {p.name for p in DEFAULT_DOCS_DIR.iterdir()}
    assert all(r["source"] in names for r in rows)
    assert {r["split"] for r in rows} == {"train", "dev", "test"}
    train = load_qa_rows(split="train")
    assert train and all(r["split"] == "train" for r in train)


@pytest.mark.parametrize("answer, ok", [("It is 7.3 km away.", True), ("7.3  KILOMETRES", True),
                                        ("about 3.7 kilometres", False), ("", False)])
def test_is_correct_uses_answer_and_aliases(answer, ok):
    row = {"answer": "7.3 kilometres", "aliases": ["7.3 km"]}
    assert is_correct(answer, row) is ok


def test_ensure_default_kb_builds_once(store):
    report = ensure_default_kb(store)
    assert report.documents >= 26 and report.total_chunks > report.documents
    assert ensure_default_kb(store) is None


def test_ensure_default_kb_missing_folder(store, tmp_path):
    with pytest.raises(UserError, match="default documents are missing"):
        ensure_default_kb(store, folder=tmp_path / "nope")
