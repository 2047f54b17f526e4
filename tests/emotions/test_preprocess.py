"""Each preprocessing step against hand-written examples, the full pipeline, and properties."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.emotions import preprocess as pp
from core.emotions.nltk_data import ensure_nltk_data, lexnames_text
from core.emotions.preprocess import PreprocessConfig, Preprocessor
from core.errors import UserError
from core.settings import load_settings

DATA_DIR = load_settings().data_dir  # the test session's (tests/conftest.py); WordNet goes there


@pytest.mark.parametrize(("fn", "text", "expected"), [
    (pp.unescape_html, "fish &amp; chips &lt;3 &quot;yes&quot; don&#39;t",
     'fish & chips <3 "yes" don\'t'),
    (pp.lowercase, "I LOVE Mondays", "i love mondays"),
    (pp.remove_urls, "look https://t.co/abc now", "look   now"),
    (pp.remove_urls, "see www.example.com/x and bit.ly/2xYz ok", "see   and   ok"),
    (pp.remove_urls, "no link here.", "no link here."),
    (lambda t: pp.replace_handles(t), "@bob hi @amy_2", "  hi  "),
    (lambda t: pp.replace_handles(t, "@user"), "@bob hi", " @user  hi"),
    (lambda t: pp.replace_handles(t), "mail me@example.com", "mail me@example.com"),
    (lambda t: pp.replace_handles(t), "thanks@bob 0@0 @amy. @0.0", "thanks  0   .  .0"),
    (pp.hashtags_to_words, "so #blessed today #2024", "so blessed today 2024"),
    (pp.emoji_to_words, "lol 😂", "lol  face with tears of joy "),
    (pp.emoji_to_words, "😍🔥", " smiling face with heart eyes  fire "),
    (pp.remove_punctuation, "wow!!! can't... (really)", "wow    can't     really "),
    (pp.remove_punctuation, "it’s 'quoted'", "it's  quoted "),
])
def test_text_step_examples(fn, text, expected):
    assert fn(text) == expected


@pytest.mark.parametrize(("keep", "expected"), [
    (True, ["not", "happy", "never", "smiling"]),
    (False, ["happy", "smiling"]),
])
def test_stopwords_keep_negations_option(keep, expected):
    pre = Preprocessor(PreprocessConfig(keep_negations=keep, lemmatize=False, negation=False))
    assert pre.tokens("I am not happy, never smiling") == expected


def test_own_stopword_list_marks_negations():
    stop, negations = pp.load_stopwords()
    assert {"the", "i", "was"} <= stop
    assert {"not", "no", "never", "don't", "cannot"} <= negations <= stop


@pytest.mark.parametrize(("tokens", "expected"), [
    (["cried", "geese", "happiest", "was"], ["cry", "goose", "happy", "be"]),
    (["feelings", "running", "sad", "lol"], ["feeling", "run", "sad", "lol"]),
])
def test_lemmatize_pos_aware(tokens, expected):
    pre = Preprocessor(PreprocessConfig(), DATA_DIR)
    assert pre.lemmatizer is not None, "WordNet should be available on the team's machines"
    assert pre.lemmatizer.lemmatize(tokens) == expected


def test_full_pipeline_trace_marks_changes():
    pre = Preprocessor(PreprocessConfig(), DATA_DIR)
    trace = pre.trace("@bob I don&#39;t LOVE this 😂 https://t.co/x #Blessed")
    names = [s.name for s in trace.steps]
    assert names == list(pp.STEP_ORDER)
    by = {s.name: s for s in trace.steps}
    assert by["urls"].removed == ["https://t.co/x"]
    assert by["handles"].removed == ["@bob"]
    assert by["negation"].added == ["not_love", "not_this", "not_blessed"]
    assert by["emoji"].added == ["face", "with", "tears", "of", "joy"]
    assert by["stopwords"].removed == ["i", "not_this", "with", "of"]
    assert trace.tokens == ["don't", "not_love", "face", "tear", "joy", "not_bless"]
    assert trace.to_dict()["steps"][-1] == {"name": "lemmatize",
                                            "text": "don't not_love face tear joy not_bless",
                                            "tokens": trace.tokens}


@pytest.mark.parametrize(("text", "expected"), [
    ("i don't like it. great", "i don't not_like not_it. great"),
    ("not happy, sad", "not not_happy, sad"),
    ("i cant stop, never again!", "i cant not_stop, never not_again!"),
    ("no @bob #fun 2day or never", "no @bob #fun 2day not_or never"),
    ("nothing is not fine", "nothing not_is not not_fine"),
    ("Notable knowledge", "Notable knowledge"),          # cues are whole words only
    ("happy day", "happy day"),
])
def test_negation_scope_ends_at_punctuation(text, expected):
    assert pp.mark_negation(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("sooooo happyyyy!!!", "soo happyy!!!"),   # letters only: punctuation runs stay
    ("1000 zzz good", "1000 zz good"),          # digits are not elongation
    ("good", "good"),
])
def test_elongation_normalised(text, expected):
    assert pp.normalise_elongation(text) == expected


def test_negated_words_survive_punctuation_stopwords_and_lemmas():
    """The not_ prefix is kept through punctuation removal; a negated stopword goes; a negated
    word is lemmatised under its prefix (cried -> cry)."""
    pre = Preprocessor(PreprocessConfig(), DATA_DIR)
    assert pre.tokens("I never cried about the goodbyes. Sooooo happy") == [
        "never", "not_cry", "not_goodbye", "soo", "happy"]


def test_models_saved_before_new_steps_keep_their_preprocessing():
    old = PreprocessConfig.from_dict({"lowercase": True})
    assert not old.negation and not old.elongation and not old.emoticons
    assert PreprocessConfig().negation and PreprocessConfig().elongation


def test_handle_placeholder_and_switched_off_steps():
    config = PreprocessConfig(handles="placeholder", punctuation=False, stopwords=False,
                              lemmatize=False, emoji=False)
    pre = Preprocessor(config, DATA_DIR)
    assert pre.tokens("@amy Hi 😂!") == ["@user", "hi", "😂", "!"]
    assert "emoji" not in [s.name for s in pre.trace("x").steps]


def test_long_tweet_truncated_with_note():
    pre = Preprocessor(PreprocessConfig(lemmatize=False))
    trace = pre.trace("sad " * 25_000)   # 100,000 characters
    assert len(trace.tokens) == 500   # 2000 chars / 4 per "sad "
    assert "truncated from 100000" in trace.steps[0].note


def test_without_wordnet_lemmatize_reported_and_rest_runs(tmp_path, monkeypatch):
    from core.emotions import lemmatize

    monkeypatch.setattr(lemmatize, "ensure_nltk_data",
                        lambda root: ensure_nltk_data(root, source=tmp_path / "none"))
    pre = Preprocessor(PreprocessConfig(), data_dir=tmp_path)
    assert not pre.lemmatize_available
    last = pre.trace("the geese were crying").steps[-1]
    assert last.name == "lemmatize" and "install wordnet-base" in last.note
    assert last.tokens == ["geese", "crying"]


def test_lexnames_has_45_numbered_lines():
    lines = lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[44] == "44\tadj.ppl\t3"
    assert lines[3] == "03\tnoun.Tops\t1" and lines[29] == "29\tverb.body\t2"


def test_wordnet_is_copied_not_linked(tmp_path):
    status = ensure_nltk_data(tmp_path)
    target = Path(status.root) / "corpora" / "wordnet"
    assert status.wordnet and not (target / "data.noun").is_symlink()
    assert (target / "lexnames").read_text() == lexnames_text()


def test_bad_config_names_value():
    with pytest.raises(UserError, match="'hide'"):
        PreprocessConfig(handles="hide")
    with pytest.raises(UserError):
        Preprocessor(PreprocessConfig(lemmatize=False)).tokens(None)  # type: ignore[arg-type]


_PRE: dict[bool, Preprocessor] = {}


def _shared(light: bool) -> Preprocessor:
    if light not in _PRE:   # light: punctuation and stopwords kept, the harder case
        _PRE[light] = Preprocessor(PreprocessConfig(punctuation=not light,
                                                    stopwords=not light), DATA_DIR)
    return _PRE[light]


tweet_text = st.lists(st.one_of(
    st.text(max_size=12),
    st.sampled_from(["@bob", "@@x_1", "http://t.co/a", "https://x.y/z?q=1", "www.a.com",
                     "#yay", "😂", "👍🏽", "&amp;", "&#39;", "don't", "NOT", "soooo", "!!!"])),
    max_size=12).map(" ".join)


@pytest.mark.parametrize("light", [True, False])
@given(text=tweet_text)
@settings(max_examples=100, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_pipeline_never_crashes_and_strips_urls_and_handles(light, text):
    import re

    tokens = _shared(light).tokens(text)
    assert all(isinstance(t, str) and t for t in tokens)
    assert not any(re.match(r"@\w", t) for t in tokens), tokens
    assert not any(re.match(r"(https?://|www\.)", t, re.I) for t in tokens), tokens


def test_emoji_names_are_lower_case_like_every_other_token():
    """Flags carry country names with capitals ('flag: Finland'); the emoji step runs after
    lower-casing, so it must lower-case its own words (found by the property test)."""
    from core.emotions.preprocess import emoji_to_words

    assert "finland" in emoji_to_words("🇫🇮") and "Finland" not in emoji_to_words("🇫🇮")
