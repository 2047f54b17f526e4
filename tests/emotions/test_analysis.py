"""Display helpers: markdown escaping, dataset step statistics, distributions; ratings store."""

from __future__ import annotations

import pytest

from core.emotions import analysis
from core.emotions.preprocess import PreprocessConfig, Preprocessor


@pytest.mark.parametrize(("text", "expected"), [
    ("<b>hi</b>", "\\<b\\>hi\\<\\/b\\>"),
    ("[x](http://a)", "\\[x\\]\\(http\\:\\/\\/a\\)"),
    (":smile: *bold*", "\\:smile\\: \\*bold\\*"),
    ("plain words 😂", "plain words 😂"),
])
def test_escape_markdown(text, expected):
    assert analysis.escape_markdown(text) == expected


def test_trace_text_lists_each_step_with_its_changes():
    pre = Preprocessor(PreprocessConfig(lemmatize=False))
    text = analysis.trace_text(pre.trace("@amy <3 yay https://t.co/x"))
    lines = text.splitlines()
    assert lines[0] == "input: @amy <3 yay https://t.co/x"
    assert lines[1:5] == ["1. html_entities: @amy <3 yay https://t.co/x",
                          "2. urls: @amy <3 yay", "   removed: https://t.co/x",
                          "3. emoticons: @amy emoheart yay"]
    assert "   removed: <3 · added: emoheart" in lines
    assert lines[-1] == "2 tokens out: emoheart, yay"


def test_dataset_step_stats(small_data):
    pre = Preprocessor(PreprocessConfig(lemmatize=False))
    stats = analysis.dataset_step_stats(pre, small_data.texts[:20]).set_index("step")
    assert stats.index[0] == "input" and stats.index[-1] == "stopwords"
    # each synthetic tweet: handle + 5 words + hashtag + URL + emoji + &amp; + "more" = 11
    assert stats.loc["input", "tokens"] == 20 * 11
    assert stats.loc["urls", "tokens"] == 20 * 10
    assert "&amp; (20)" in stats.loc["html_entities", "most removed"]
    assert stats.loc["stopwords", "vocabulary"] < stats.loc["input", "vocabulary"]


def test_oversampled_counts_leave_test_split_alone():
    labels = ["joy"] * 40 + ["anger"] * 10
    frame = analysis.oversampled_counts(labels)
    got = {(r.split, r.label): r.count for r in frame.itertuples()}
    assert got[("train before", "anger")] == 8 and got[("train after oversampling", "anger")] == 32
    assert got[("test (never oversampled)", "anger")] == 2
    assert got[("test (never oversampled)", "joy")] == 8
