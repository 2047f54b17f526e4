"""Tweet preprocessing as named, individually switchable steps that leave a trace.

Each step is a small function with a one-line worked example; :class:`Preprocessor` builds the
tokenizer, stopword sets and lemmatiser once and runs the enabled steps in a fixed order:
html_entities, urls, emoticons, lowercase, handles, hashtags, elongation, negation, emoji,
punctuation, tokenize, stopwords, lemmatize. Emoticons become word tokens (``<3`` ->
``emoheart``) before punctuation is stripped, so they survive to the model; URLs go first so
``http://`` is no emoticon. Negation marking runs before punctuation is dropped, because a
negation's scope ends at the next punctuation mark ("not happy" -> "not not_happy").
:meth:`Preprocessor.trace` returns the text and tokens after every step with what
each step removed and added (for display); :meth:`Preprocessor.tokens` is the fast path used for
training. Before the ``tokenize`` step, "tokens" are the whitespace-split text.
Lemmatisation needs WordNet (:mod:`core.emotions.nltk_data`); without it the step is reported as
unavailable and skipped. It does not vectorise or classify.

Example:
    >>> Preprocessor(PreprocessConfig(lemmatize=False)).tokens("@bob I don't LOVE this 😂 https://t.co/x")
    ["don't", 'love', 'face', 'tears', 'joy']
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from core.errors import UserError

STOPWORDS_FILE = Path(__file__).resolve().parents[2] / "assets" / "emotions" / "stopwords_en.txt"
HANDLE_MODES = ("remove", "placeholder", "keep")
STEP_ORDER = ("html_entities", "urls", "emoticons", "lowercase", "handles", "hashtags",
              "elongation", "negation", "emoji", "punctuation", "tokenize", "stopwords",
              "lemmatize")

URL_RE = re.compile(r"(?:https?://|www\.)\S*|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|ly|co|me|gl)"
                    r"/\S*", re.IGNORECASE)
#: A handle may be glued to a word ("thanks@bob"); "me@example.com" stays (a domain follows).
HANDLE_RE = re.compile(r"(?<![\w@])@+\w+|(?<=\w)@+\w+(?!\w|\.\w)")
HASHTAG_RE = re.compile(r"(?<![\w#])#+(\w+)")
#: Negation prefix: the words in a negation's scope become ``not_<word>``.
NEG_PREFIX = "not_"
PUNCT_RE = re.compile(r"[^\w\s']|(?<!\bnot)_")   # the ``not_`` of a negated word stays
ELONGATION_RE = re.compile(r"([^\W\d_])\1{2,}")
#: Negation cues (Pang et al. 2002; Das & Chen 2001), with apostrophe-less tweet spellings.
NEGATION_RE = re.compile(
    r"(?<![\w@#])(?:not|no|never|cannot|nothing|nobody|none|nowhere|neither|nor|without|"
    r"(?:do|does|did|is|are|was|were|have|has|had|ca|wo|could|would|should|ai|must|need)"
    r"n['’]?t)(?![\w'])", re.IGNORECASE)
CLAUSE_END_RE = re.compile(r"[.,!?;:]+")
SCOPE_WORD_RE = re.compile(r"(?<![\w@#'’])[^\W\d_][\w'’]*")
#: Emoticon -> word token (letters only, so lowercase/punctuation/tokenize leave it whole).
EMOTICONS = {
    "emoheart": r"(?:<|&lt;)3+", "emobrokenheart": r"(?:<|&lt;)/3+",
    "emolaugh": r"[:=;]-?D+|\b[xX]-?D+", "emosmile": r"[:=]-?\)+",
    "emocry": r":'-?\(+", "emosad": r"[:=]-?\(+", "emowink": r";-?\)+",
    "emotongue": r"[:;=]-?[pP]+", "emosurprise": r":-?[oO]+",
}
EMOTICON_RE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in
                                  EMOTICONS.items()).join(("(?<![^\\s\\w])(?:", ")(?!\\w)")))
LONE_APOSTROPHE_RE = re.compile(r"(?<![^\W_])'|'(?![^\W_])")


@dataclass(frozen=True)
class PreprocessConfig:
    """Which steps run. Defaults suit TF-IDF models; :data:`TRANSFORMER_CONFIG` suits encoders."""

    html_entities: bool = field(default=True, metadata={"help": "&amp; -> &"})
    lowercase: bool = field(default=True, metadata={"help": "Lower-case everything."})
    urls: bool = field(default=True, metadata={"help": "Remove http(s)/www links."})
    handles: str = field(default="remove", metadata={"help": "remove|placeholder|keep @user."})
    handle_placeholder: str = field(default="@user", metadata={"help": "Replacement handle."})
    emoticons: bool = field(default=True, metadata={"help": "<3 -> emoheart, :) -> emosmile."})
    hashtags: bool = field(default=True, metadata={"help": "#happy -> happy."})
    elongation: bool = field(default=True, metadata={"help": "sooooo -> soo (3+ repeats -> 2)."})
    negation: bool = field(default=True, metadata={
        "help": "not happy. -> not not_happy. (until punctuation)."})
    emoji: bool = field(default=True, metadata={"help": "😂 -> face with tears of joy."})
    punctuation: bool = field(default=True, metadata={"help": "Drop punctuation."})
    tokenize: bool = field(default=True, metadata={"help": "NLTK TweetTokenizer."})
    stopwords: bool = field(default=True, metadata={"help": "Drop the project's stopwords."})
    keep_negations: bool = field(default=True, metadata={"help": "Keep not/no/never/don't."})
    lemmatize: bool = field(default=True, metadata={"help": "POS-aware WordNet lemmas."})
    max_chars: int = field(default=2000, metadata={"help": "Longer tweets are truncated."})

    def __post_init__(self) -> None:
        if self.handles not in HANDLE_MODES:
            raise UserError(f"handles must be one of {'|'.join(HANDLE_MODES)}, "
                            f"got {self.handles!r}")
        if not 1 <= self.max_chars <= 100_000:
            raise UserError(f"max_chars must be between 1 and 100000, got {self.max_chars}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for step in ("emoticons", "elongation", "negation"):
            known.setdefault(step, False)   # models saved before a step trained without it
        return cls(**known)

    def enabled(self, step: str) -> bool:
        value = getattr(self, step)
        return value != "keep" if step == "handles" else bool(value)


#: Light cleaning for transformer encoders: they want words, casing, stopwords and inflection.
TRANSFORMER_CONFIG = PreprocessConfig(lowercase=False, handles="placeholder", punctuation=False,
                                      stopwords=False, lemmatize=False, elongation=False,
                                      negation=False)


# --- text steps (str -> str) -------------------------------------------------------------
def unescape_html(text: str) -> str:
    """'fish &amp; chips &lt;3' -> 'fish & chips <3'"""
    return html.unescape(text)


def lowercase(text: str) -> str:
    """'I LOVE Mondays' -> 'i love mondays'"""
    return text.lower()


def remove_urls(text: str) -> str:
    """'look https://t.co/abc now' -> 'look   now' (http(s)://, www. and short links)"""
    return URL_RE.sub(" ", text)


def emoticons_to_words(text: str) -> str:
    """'love you <3 :-( ;)' -> 'love you  emoheart   emosad   emowink ' (see :data:`EMOTICONS`)"""
    return EMOTICON_RE.sub(lambda m: f" {m.lastgroup} ", text)


def replace_handles(text: str, placeholder: str = "") -> str:
    """'@bob hi @amy_2' -> ' hi ' (or '@user hi @user' with a placeholder)"""
    return HANDLE_RE.sub(f" {placeholder} " if placeholder else " ", text)


def hashtags_to_words(text: str) -> str:
    """'so #blessed today' -> 'so blessed today'"""
    return HASHTAG_RE.sub(r"\1", text)


def normalise_elongation(text: str) -> str:
    """'sooooo happyyyy!!!' -> 'soo happyy!!!' (a letter repeated 3+ times kept twice; digits
    and punctuation untouched), so every elongated spelling is one term."""
    return ELONGATION_RE.sub(r"\1\1", text)


def mark_negation(text: str) -> str:
    """"i don't like it. great" -> "i don't not_like not_it. great"

    Every word after a negation cue (:data:`NEGATION_RE`) up to the next ``.,!?;:`` gets the
    ``not_`` prefix, so "not happy" and "happy" are different features. Handles, hashtags and
    numbers are left alone; a second cue in the same scope is kept as it is.
    """
    out, start = [], 0
    for end_match in [*CLAUSE_END_RE.finditer(text), None]:
        end = end_match.start() if end_match else len(text)
        clause = text[start:end]
        cue = NEGATION_RE.search(clause)
        if cue:
            head, tail = clause[:cue.end()], clause[cue.end():]
            tail = SCOPE_WORD_RE.sub(
                lambda m: m.group(0) if NEGATION_RE.fullmatch(m.group(0))
                else NEG_PREFIX + m.group(0), tail)
            clause = head + tail
        out.append(clause)
        if end_match:
            out.append(end_match.group(0))
            start = end_match.end()
    return "".join(out)


def emoji_to_words(text: str) -> str:
    """'lol 😂' -> 'lol  face with tears of joy ' (emoji's English names, '_'/'-' as spaces)"""
    if text.isascii():   # no emoji possible: skip the library's per-character scan
        return text
    import emoji

    return emoji.replace_emoji(text, replace=_emoji_name)


def _emoji_name(chars: str, data: dict) -> str:
    """Lower-cased, since this step runs after lower-casing: 🇫🇮 -> ' flag: finland '."""
    name = data.get("en", "").strip(":").replace("_", " ").replace("-", " ").lower()
    return f" {name} "


def remove_punctuation(text: str) -> str:
    """"wow!!! can't... (really)" -> "wow    can't     really " (inner apostrophes kept)"""
    text = PUNCT_RE.sub(" ", text.replace("’", "'"))
    return LONE_APOSTROPHE_RE.sub(" ", text)


# --- token steps (list -> list) ------------------------------------------------------------
def load_stopwords(path: Path = STOPWORDS_FILE) -> tuple[frozenset[str], frozenset[str]]:
    """(stopwords, negations) from our list: negations are the lines marked with '!'."""
    stop, negations = set(), set()
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if word.startswith("!"):
            negations.add(word[1:])
            stop.add(word[1:])
        else:
            stop.add(word)
    return frozenset(stop), frozenset(negations)


def remove_stopwords(tokens: list[str], stop: frozenset[str]) -> list[str]:
    """['i', 'am', 'not', 'happy', 'not_the'] -> ['not', 'happy'] (with negations kept; a
    negated stopword goes too)"""
    return [t for t in tokens if t.lower().removeprefix(NEG_PREFIX) not in stop]


StepFn = Callable[[str | list[str]], str | list[str]]


@dataclass
class Step:
    """One step of a trace: text and tokens after it, what it removed/added, a note."""

    name: str
    text: str
    tokens: list[str]
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.added or self.note)


@dataclass
class Trace:
    original: str
    steps: list[Step]

    @property
    def tokens(self) -> list[str]:
        return self.steps[-1].tokens if self.steps else self.original.split()

    def to_dict(self) -> dict:
        return {"steps": [{"name": s.name, "text": s.text, "tokens": s.tokens}
                          for s in self.steps]}


class Preprocessor:
    """Runs the enabled steps; build once (tokenizer, stopwords, lemmatiser) and reuse."""

    def __init__(self, config: PreprocessConfig | None = None, data_dir: Path | None = None):
        """``data_dir`` (the app's, from Settings) holds WordNet; needed when lemmatising."""
        from nltk.tokenize import TweetTokenizer

        self.config = config or PreprocessConfig()
        self._tokenizer = TweetTokenizer(preserve_case=True, reduce_len=True)
        stop, negations = load_stopwords()
        self.stopwords = stop - negations if self.config.keep_negations else stop
        self.lemmatizer = None
        self.lemma_status = "off"
        if self.config.lemmatize:
            from core.emotions.lemmatize import Lemmatizer
            from core.emotions.nltk_data import INSTALL_HINT

            if data_dir is None:
                raise ValueError("lemmatize=True needs data_dir (Settings.data_dir holds WordNet)")
            self.lemmatizer = Lemmatizer.create(data_dir)
            self.lemma_status = self.lemmatizer.status if self.lemmatizer else INSTALL_HINT
        self._steps = self._build_steps()

    @property
    def lemmatize_available(self) -> bool:
        return self.lemmatizer is not None

    def _build_steps(self) -> list[tuple[str, bool, StepFn]]:
        c = self.config
        placeholder = c.handle_placeholder if c.handles == "placeholder" else ""
        table: dict[str, tuple[bool, StepFn]] = {
            "html_entities": (False, unescape_html),
            "lowercase": (False, lowercase),
            "urls": (False, remove_urls),
            "emoticons": (False, emoticons_to_words),
            "handles": (False, lambda t: replace_handles(t, placeholder)),
            "hashtags": (False, hashtags_to_words),
            "elongation": (False, normalise_elongation),
            "negation": (False, mark_negation),
            "emoji": (False, emoji_to_words),
            "punctuation": (False, remove_punctuation),
            "tokenize": (False, self._tokenizer.tokenize),
            "stopwords": (True, lambda toks: remove_stopwords(toks, self.stopwords)),
            "lemmatize": (True, self._lemmatize),
        }
        return [(name, *table[name]) for name in STEP_ORDER if c.enabled(name)]

    def _lemmatize(self, tokens: list[str]) -> list[str]:
        """Negated words keep their prefix: not_cried -> not_cry."""
        if not self.lemmatizer:
            return tokens
        bare = [t.removeprefix(NEG_PREFIX) for t in tokens]
        lemmas = self.lemmatizer.lemmatize(bare)
        return [NEG_PREFIX + lem if t.startswith(NEG_PREFIX) and b else lem
                for t, b, lem in zip(tokens, bare, lemmas, strict=True)]

    def _prepare(self, text: str) -> str:
        if not isinstance(text, str):
            raise UserError(f"a tweet must be text, got {type(text).__name__}")
        return text[: self.config.max_chars]

    def tokens(self, text: str) -> list[str]:
        """Fast path: the final tokens only."""
        value: str | list[str] = self._prepare(text)
        for _name, on_tokens, fn in self._steps:
            if on_tokens and isinstance(value, str):
                value = value.split()
            value = fn(value)
        return value.split() if isinstance(value, str) else value

    def text(self, text: str) -> str:
        return " ".join(self.tokens(text))

    def trace(self, text: str) -> Trace:
        """Text and tokens after every enabled step, with removed/added tokens marked."""
        prepared = self._prepare(text)
        value: str | list[str] = prepared
        prev = prepared.split()
        steps: list[Step] = []
        for name, on_tokens, fn in self._steps:
            if on_tokens and isinstance(value, str):
                value = value.split()
            value = fn(value)
            toks = value.split() if isinstance(value, str) else list(value)
            shown = " ".join(value.split()) if isinstance(value, str) else " ".join(toks)
            before, after = Counter(prev), Counter(toks)
            note = ""
            if name == "lemmatize" and not self.lemmatize_available:
                note = self.lemma_status
            steps.append(Step(name, shown, toks, list((before - after).elements()),
                              list((after - before).elements()), note))
            prev = toks
        if len(text) > len(prepared) and steps:
            steps[0].note = f"truncated from {len(text)} to {len(prepared)} characters"
        return Trace(text, steps)


@lru_cache(maxsize=8)
def cached_preprocessor(config: PreprocessConfig, data_dir: Path | None = None) -> Preprocessor:
    """One :class:`Preprocessor` per (config, data_dir) in this process."""
    return Preprocessor(config, data_dir)
