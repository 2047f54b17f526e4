"""Real tweets from ../shared/data (skipped where absent): loaders, grouping, merging."""

from __future__ import annotations

from collections import Counter

from core.emotions import datasets as ds


def test_text_emotion_grouping_and_duplicates(shared_data):
    data = ds.load_text_emotion(shared_data / "text_emotion.csv")
    assert len(data.texts) == 40_000
    counts = Counter(data.labels)
    assert len(counts) == 13 and counts["neutral"] == 8638 and counts["anger"] == 110
    grouped = ds.apply_groups(data, ds.load_group_map())
    assert grouped.report["unmapped_labels"] == [] and grouped.report["grouped_to"] == 7
    g = Counter(grouped.labels)   # joy = happiness+fun+enthusiasm+relief
    assert g["joy"] == 5209 + 1776 + 759 + 1526 and g["anger"] == 110 + 1323
    exact_dups = len(data.texts) - len(set(data.texts))
    assert exact_dups == 173
    merged = ds.merge([data])
    assert merged.report["duplicates_dropped"] >= 173   # case/space-insensitive: a few more


def test_tweets_clean_and_merge(shared_data):
    clean = ds.load_tweets_clean(shared_data / "tweets_clean.txt")
    assert sorted(set(clean.labels)) == ["anger", "disgust", "fear", "joy", "sadness",
                                         "surprise"]
    assert len(clean.texts) > 20_000
    te = ds.load_text_emotion(shared_data / "text_emotion.csv")
    merged = ds.merge([ds.apply_groups(te, ds.load_group_map()), clean])
    assert merged.report["rows"] == len(te.texts) + len(clean.texts)
    assert len(merged.texts) == merged.report["rows"] - merged.report["duplicates_dropped"]
