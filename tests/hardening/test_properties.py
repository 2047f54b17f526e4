"""Issue 8 item 4: property-based tests (hypothesis) for the chunker, the tweet preprocessing
pipeline and the classification metrics. Bounded: <= 80 examples each, no deadline.

The QA metrics are issue 4's SQuAD EM/F1 (core/evaluation/metrics.py).
"""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.emotions.metrics import classification_metrics
from core.emotions.preprocess import STEP_ORDER, PreprocessConfig, Preprocessor, load_stopwords
from core.rag.chunking import chunk_text, content_hash
from core.rag.config import ChunkingConfig

BOUNDED = settings(max_examples=80, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

WORDS = st.text(alphabet=string.ascii_letters + "éü", min_size=1, max_size=14)
SENTENCE = st.builds(lambda ws, end: " ".join(ws) + end, st.lists(WORDS, min_size=1, max_size=30),
                     st.sampled_from([".", "!", "?", "", " etc.", "...", ".\"", " Dr."]))
PARAGRAPH = st.builds(" ".join, st.lists(SENTENCE, min_size=1, max_size=8))
DOCUMENT = st.one_of(
    st.builds(lambda ps, sep: sep.join(ps), st.lists(PARAGRAPH, min_size=1, max_size=6),
              st.sampled_from(["\n\n", "\n", "\n\n# Heading\n\n", "\n- ", " \t\n \n"])),
    st.text(min_size=1, max_size=3000),  # anything at all, including no spaces, control chars
)
CONFIG = st.builds(lambda size, frac, tiny: ChunkingConfig(chunk_size=size,
                                                           chunk_overlap=int(size // 2 * frac),
                                                           min_chunk_chars=min(tiny, size - 1)),
                   st.integers(100, 1200), st.floats(0, 1), st.integers(1, 60))


@BOUNDED
@given(DOCUMENT, CONFIG)
def test_chunks_cover_the_text_and_respect_limits(text, cfg):
    chunks = chunk_text(text, cfg)
    covered = set()
    for i, c in enumerate(chunks):
        assert c.position == i
        assert c.text == text[c.start:c.end] and c.text.strip() == c.text and c.text
        # packing stays within the size; folding a tiny tail in adds < min_chunk_chars
        assert len(c.text) <= cfg.chunk_size + cfg.min_chunk_chars
        covered.update(range(c.start, c.end))
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert not missing, f"characters not in any chunk: {[text[i] for i in missing[:10]]}"
    for a, b in itertools.pairwise(chunks):
        assert a.start <= b.start and a.end < b.end  # in order, each adds new text
        assert max(0, a.end - b.start) <= cfg.chunk_overlap  # overlap as configured


@BOUNDED
@given(DOCUMENT, CONFIG)
def test_chunking_is_deterministic_and_hashes_are_stable(text, cfg):
    first, second = chunk_text(text, cfg), chunk_text(text, cfg)
    assert [(c.start, c.end, c.hash) for c in first] == [(c.start, c.end, c.hash) for c in second]
    for c in first:
        assert c.hash == content_hash("  " + c.text.replace(" ", " \n ") + "\t")
        assert len(c.hash) == 16 and all(ch in string.hexdigits for ch in c.hash)


@BOUNDED
@given(PARAGRAPH, st.integers(100, 800))
def test_no_overlap_when_overlap_is_zero(text, size):
    chunks = chunk_text(text, ChunkingConfig(chunk_size=size, chunk_overlap=0))
    for a, b in itertools.pairwise(chunks):
        assert a.end <= b.start


_PRE = {}


def preprocessor(**kw) -> Preprocessor:
    key = tuple(sorted(kw.items()))
    if key not in _PRE:
        _PRE[key] = Preprocessor(PreprocessConfig(lemmatize=False, **kw))
    return _PRE[key]


TWEETS = st.one_of(
    st.text(max_size=400),
    st.builds(lambda parts: " ".join(parts), st.lists(st.one_of(
        WORDS, st.sampled_from(["@amy_b", "#HappyDay", "http://t.co/x1", "www.ex.com/a?b=1",
                                "&amp;", "&lt;3", "😂", "🔥🔥", "NOT", "don't", "<script>",
                                "!!!", "...", ":)", "\x00", "\u200b"])), max_size=40)),
)


@BOUNDED
@given(TWEETS)
def test_preprocessing_never_fails_and_each_step_does_its_job(tweet):
    pre = preprocessor()
    trace = pre.trace(tweet)
    names = [s.name for s in trace.steps]
    # entities first, then links out before emoticons are read (":/" in "http://"), and
    # emoticons before lower-casing (":D" vs ":d")
    assert names[:4] == ["html_entities", "urls", "emoticons", "lowercase"]
    assert names == [n for n in STEP_ORDER if n in names]
    final = trace.steps[-1].tokens
    assert final == pre.tokens(tweet)  # the fast path and the traced path agree
    stop, negations = load_stopwords()
    for tok in final:
        assert tok == tok.lower() or not tok.isalpha()
        assert not tok.startswith(("http", "www.", "@")) and "#" not in tok
        assert tok not in (stop - negations)


@BOUNDED
@given(TWEETS, st.integers(1, 300))
def test_preprocessing_truncates_to_max_chars(tweet, limit):
    pre = Preprocessor(PreprocessConfig(lemmatize=False, max_chars=limit, stopwords=False,
                                        punctuation=False, emoji=False, tokenize=False))
    assert len(pre.trace(tweet).steps[0].text) <= limit


@BOUNDED
@given(TWEETS)
def test_negations_survive_when_kept(tweet):
    kept = set(preprocessor().tokens(tweet + " not never"))
    assert {"not", "never"} <= kept
    dropped = set(preprocessor(keep_negations=False).tokens(tweet + " not never"))
    assert not {"not", "never"} & dropped


LABELS = ["anger", "joy", "sadness"]
PAIRS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=60)


@BOUNDED
@given(PAIRS)
def test_classification_metrics_are_bounded_and_consistent(pairs):
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    m = classification_metrics(y_true, y_pred, LABELS)
    for key in ("accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall"):
        assert 0.0 <= m[key] <= 1.0
    assert m["accuracy"] == pytest.approx(sum(t == p for t, p in pairs) / len(pairs), abs=5e-5)
    assert sum(map(sum, m["confusion"])) == len(pairs)
    perfect = classification_metrics(y_true, y_true, LABELS)
    assert perfect["accuracy"] == 1.0 and perfect["weighted_f1"] == pytest.approx(1.0)


ANSWERS = st.one_of(st.text(max_size=60),
                    st.builds(" ".join, st.lists(st.sampled_from(
                        ["the", "a", "Blue", "blue", "Harbour", "harbour,", "1998", "an", "Quill",
                         "!", "Lantern-Shed", "  "]), max_size=8)))


@BOUNDED
@given(ANSWERS, st.lists(ANSWERS, min_size=1, max_size=3))
def test_qa_metrics_bounded_and_em_implies_f1_one(prediction, golds):
    from core.evaluation.metrics import exact_match, f1_score

    em, f1 = exact_match(prediction, golds).value, f1_score(prediction, golds).value
    assert em in (0.0, 1.0) and 0.0 <= f1 <= 1.0
    if em == 1.0:
        assert f1 == 1.0
    assert exact_match(prediction, [prediction]).value == 1.0  # an answer matches itself
    assert f1_score(prediction, [prediction]).value == 1.0
    # more golds can only help: the score is a max over golds
    assert f1_score(prediction, [*golds, "unrelated words"]).value >= f1


@BOUNDED
@given(ANSWERS, ANSWERS)
def test_qa_f1_is_symmetric_for_one_gold(a, b):
    """Token F1 = 2PR/(P+R) is symmetric in prediction and gold (P and R swap)."""
    from core.evaluation.metrics import f1_score

    assert f1_score(a, [b]).value == pytest.approx(f1_score(b, [a]).value)


def test_qa_metrics_missing_gold_is_reported_not_scored():
    from core.evaluation.metrics import exact_match, f1_score

    assert exact_match("x", []).value is None and f1_score("x", []).value is None
