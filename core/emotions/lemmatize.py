"""Part-of-speech aware WordNet lemmatisation that works offline.

NLTK's perceptron POS tagger needs data that no package here ships, so the part of speech is
chosen by NLTK's tagger when its data is installed, and otherwise by a WordNet heuristic:
an inflected verb form wins (``cried`` -> v), then an inflected noun (``geese`` -> n), then an
inflected adjective (``happiest`` -> a), else the POS of the word's most frequent WordNet sense
(synsets are ordered by sense frequency, from ``cntlist``). Results are cached per token.

Example:
    >>> lem = Lemmatizer.create(Path("/tmp/appdata"))  # doctest: +SKIP
    >>> lem.lemmatize(["cried", "geese", "happiest"])
    ['cry', 'goose', 'happy']
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from core.emotions.nltk_data import ensure_nltk_data, has_pos_tagger

_TAG_TO_WN = {"J": "a", "V": "v", "N": "n", "R": "r"}


class Lemmatizer:
    """WordNetLemmatizer plus a POS guesser; build with :meth:`create` (None without WordNet)."""

    def __init__(self, use_tagger: bool):
        from nltk.corpus import wordnet
        from nltk.stem import WordNetLemmatizer

        self._wn = wordnet
        self._lemmatizer = WordNetLemmatizer()
        self._lemmatizer.lemmatize("warmup")  # loads WordNet now, not on the first tweet
        self.use_tagger = use_tagger
        self.status = ("WordNet lemmas, POS from NLTK's tagger" if use_tagger
                       else "WordNet lemmas, POS from WordNet sense frequencies")
        self._cached = lru_cache(maxsize=200_000)(self._lemma_guess)

    @classmethod
    def create(cls, data_dir: Path | None = None) -> Lemmatizer | None:
        from core.settings import load_settings

        root = data_dir if data_dir is not None else load_settings().data_dir
        if not ensure_nltk_data(Path(root)).wordnet:
            return None
        return cls(use_tagger=has_pos_tagger())

    def guess_pos(self, word: str) -> str:
        """'cried' -> 'v', 'geese' -> 'n', 'happiest' -> 'a', 'sad' -> 'a'."""
        morphy = self._wn.morphy
        for pos in ("v", "n", "a"):
            base = morphy(word, pos)
            if base is not None and base != word:
                return pos
        synsets = self._wn.synsets(word)
        if synsets:
            pos = synsets[0].pos()
            return "a" if pos == "s" else pos
        return "n"

    def _lemma_guess(self, token: str) -> str:
        word = token.lower()
        if not word.isalpha():
            return token
        return self._lemmatizer.lemmatize(word, self.guess_pos(word))

    def lemmatize(self, tokens: list[str]) -> list[str]:
        if self.use_tagger:
            import nltk

            return [self._lemmatizer.lemmatize(tok.lower(), _TAG_TO_WN.get(tag[:1], "n"))
                    if tok.isalpha() else tok for tok, tag in nltk.pos_tag(tokens)]
        return [self._cached(tok) for tok in tokens]
