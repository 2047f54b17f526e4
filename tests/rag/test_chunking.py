"""Chunking: sentence and paragraph boundaries, overlap, hard splits, hashes, config limits."""

import itertools

import pytest

from core.errors import UserError
from core.rag.chunking import chunk_text, content_hash, split_sentences
from core.rag.config import ChunkingConfig

TEXT = ("Alpha one is here. Beta two follows it. Gamma three ends the first part.\n\n"
        "Delta four opens a paragraph. Epsilon five continues. Zeta six closes it.")


def test_split_sentences_keeps_abbreviations_and_initials():
    """'Dr.' and 'J.' do not end sentences; '.' before a lower-case word does not either."""
    text = "Dr. Ada Lee met J. Smith at 5 p.m. today. It rained! Did it? Yes."
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "Dr. Ada Lee met J. Smith at 5 p.m. today.", "It rained!", "Did it?", "Yes."]


def test_chunks_end_on_sentence_boundaries_and_map_to_source():
    chunks = chunk_text(TEXT, ChunkingConfig(chunk_size=100, chunk_overlap=0))
    ends = {b for _, b in split_sentences(TEXT)}
    assert len(chunks) >= 2
    for c in chunks:
        assert TEXT[c.start:c.end] == c.text
        assert c.end in ends, c.text
        assert len(c.text) <= 100


def test_paragraph_break_closes_a_half_full_chunk():
    """Paragraph 1 is 72 chars.

    size 140: 72 >= 140 // 2, so the chunk closes at the paragraph although "Delta four opens
    a paragraph." (29 chars) would still fit (72 + 2 + 29 = 103 <= 140).
    size 200: 72 < 100, so the chunk continues into the next paragraph (147 chars in all).
    """
    chunks = chunk_text(TEXT, ChunkingConfig(chunk_size=140, chunk_overlap=0))
    assert chunks[0].text.endswith("first part.")
    assert chunks[1].text.startswith("Delta four")
    whole = chunk_text(TEXT, ChunkingConfig(chunk_size=200, chunk_overlap=0))
    assert [c.text for c in whole] == [TEXT]


def test_overlap_repeats_trailing_sentences():
    text = " ".join(f"Sentence number {i} is right here." for i in range(12))
    chunks = chunk_text(text, ChunkingConfig(chunk_size=120, chunk_overlap=40))
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start < prev.end, "no overlap"
        overlap = text[nxt.start:prev.end]
        assert len(overlap) <= 40 and overlap.endswith(".")
    without = chunk_text(text, ChunkingConfig(chunk_size=120, chunk_overlap=0))
    assert all(b.start >= a.end for a, b in itertools.pairwise(without))
    assert len(chunks) > len(without)


def test_long_sentence_is_cut_at_word_boundaries():
    text = "word " * 100  # one 500-char "sentence" without a full stop
    chunks = chunk_text(text, ChunkingConfig(chunk_size=120, chunk_overlap=0))
    assert len(chunks) >= 4
    assert all(len(c.text) <= 120 and not c.text.endswith("wor") for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_positions_are_consecutive_and_every_word_is_kept():
    chunks = chunk_text(TEXT * 5, ChunkingConfig(chunk_size=200, chunk_overlap=0))
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert " ".join(c.text for c in chunks).split() == (TEXT * 5).split()


def test_content_hash_ignores_whitespace_but_not_words():
    assert content_hash("a  b\n c") == content_hash("a b c")
    assert content_hash("a b c") != content_hash("a b d")
    assert len(content_hash("x")) == 16
    assert chunk_text(TEXT)[0].hash == content_hash(chunk_text(TEXT)[0].text)


def test_empty_text_gives_no_chunks():
    assert chunk_text("   \n\n ") == []


@pytest.mark.parametrize("kwargs, needle", [
    ({"chunk_size": 50}, "chunk_size"),
    ({"chunk_size": 9000}, "chunk_size"),
    ({"chunk_size": 200, "chunk_overlap": 150}, "chunk_overlap"),
    ({"chunk_overlap": -1}, "chunk_overlap"),
    ({"min_chunk_chars": 0}, "min_chunk_chars"),
])
def test_bad_chunking_config_names_the_value(kwargs, needle):
    with pytest.raises(UserError, match=needle):
        ChunkingConfig(**kwargs)
