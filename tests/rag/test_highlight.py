"""Highlighting marks the chunk text and never changes it (core.rag.highlight)."""

import re

import pytest

from core.rag.highlight import highlight_markdown, highlight_spans

_MARKUP = re.compile(r"\\(.)|:orange-background\[|\]|\*\*|  \n", re.S)


def unmark(rendered: str) -> str:
    """Undo our markup: escapes give their character, directives, bold and hard breaks go.

    Every special character of the chunk is escaped, so anything unescaped is our markup.
    """
    return _MARKUP.sub(lambda m: m.group(1) or ("\n" if m.group() == "  \n" else ""), rendered)


def without_heading_marks(text: str) -> str:
    return re.sub(r"(?m)^ {0,3}#{1,6}[ \t]+", "", text)


TRICKY = [
    ("It lies 7.3 kilometres north-east of the harbour.", "7.3 kilometres north-east"),
    ("Ring 0-800-555 or 1,250.50 credits, 3.14159.", "0-800-555 costs 1,250.50"),
    ("## Opening hours\nThe shop opens at 9.30 on week-days.", "opening at 9.30"),
    ("# Title\n\n### Sub *heading*\nBody text [link](http://x) here.", "title heading link"),
    ("<b>bold</b> <script>alert('x')</script> &amp; done", "bold alert script amp"),
    ("$E=mc^2$ :red[boom] `code` _it_ ~~s~~ | a | b |", "boom code red"),
    ("O'Brien's co-op, est. 1998 — Marta Quill (keeper).", "Marta Quill O'Brien 1998"),
    ("Trailing backslash \\ and ] bracket [ here", "backslash bracket"),
]


@pytest.mark.parametrize("text, answer", TRICKY)
def test_rendered_text_without_markup_equals_the_original(text, answer):
    rendered = highlight_markdown(text, answer)
    assert unmark(rendered) == without_heading_marks(text), rendered
    assert ":orange-background[" in rendered  # something was highlighted


@pytest.mark.parametrize("text, answer", TRICKY)
def test_only_our_markup_is_unescaped(text, answer):
    """Stripping escapes and our own markup leaves no Markdown/HTML special character."""
    rest = re.sub(r"\\.|:orange-background\[|\]|\*\*", "", highlight_markdown(text, answer))
    assert re.search(r"[!\[\]()<>$:*_`#~|&\\]", rest) is None, rest


def test_numbers_and_hyphenated_words_are_one_span():
    """Two spans: "7.3" (offsets 8-11) and "north-east" (23-33), not "7", "3", "north"."""
    text = "It lies 7.3 kilometres north-east."
    assert highlight_spans(text, "7.3 km north") == [(8, 11), (23, 33)]
    assert highlight_markdown(text, "7.3 km north") == (
        "It lies :orange-background[7\\.3] kilometres :orange-background[north\\-east]\\.")


def test_neighbouring_words_share_a_span_but_not_across_lines():
    assert highlight_spans("Ilsa Marek, keeper", "Marek Ilsa keeper") == [(0, 18)]
    assert highlight_spans("Ilsa\nMarek", "Ilsa Marek") == [(0, 4), (5, 10)]


def test_heading_marks_are_not_shown():
    out = highlight_markdown("## Opening hours\nBody", "hours")
    assert "#" not in out and out.startswith("**Opening :orange-background[hours]**")
