"""Part-of-speech aware WordNet lemmatisation that works offline.

NLTK's perceptron POS tagger needs data that no package here ships, so the part of speech is
chosen by NLTK's tagger when its data is installed, and otherwise by a WordNet heuristic:
an inflected verb form wins (``cried`` -> v), then an inflected noun (``geese`` -> n), then an
inflected adjective (``happiest`` -> a), else the POS under which the word has the most
sense-tagged occurrences in SemCor (``tagsense_cnt``, 4th-from-offsets field of WordNet's
``index.<pos>`` lines; ties broken by sense count), read once from the index files.
Results are cached per token.

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
_INDEX_POS = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}


def read_pos_ranks(wordnet_dir: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """word -> {pos: (tagsense_cnt, sense_cnt)} from ``index.noun/verb/adj/adv``.

    Index line: ``lemma pos synset_cnt p_cnt [ptr_symbol]*p_cnt sense_cnt tagsense_cnt
    offset*synset_cnt`` (WordNet's wndb(5WN)). Example: 'cry' -> {'n': (11, 12), 'v': (..)}.
    """
    ranks: dict[str, dict[str, tuple[int, int]]] = {}
    for name, pos in _INDEX_POS.items():
        path = wordnet_dir / f"index.{name}"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(" "):
                    continue   # license header lines start with two spaces
                f = line.split()
                p_cnt = int(f[3])
                sense_cnt, tagsense_cnt = int(f[4 + p_cnt]), int(f[5 + p_cnt])
                ranks.setdefault(f[0], {})[pos] = (tagsense_cnt, sense_cnt)
    return ranks


class Lemmatizer:
    """WordNetLemmatizer plus a POS guesser; build with :meth:`create` (None without WordNet)."""

    def __init__(self, use_tagger: bool, wordnet_dir: Path | None = None):
        from nltk.corpus import wordnet
        from nltk.stem import WordNetLemmatizer

        self._wn = wordnet
        self._pos_rank = read_pos_ranks(wordnet_dir) if wordnet_dir else {}
        self._lemmatizer = WordNetLemmatizer()
        self._lemmatizer.lemmatize("warmup")  # loads WordNet now, not on the first tweet
        self.use_tagger = use_tagger
        self.status = ("WordNet lemmas, POS from NLTK's tagger" if use_tagger
                       else "WordNet lemmas, POS from WordNet sense frequencies")
        self._cached = lru_cache(maxsize=200_000)(self._lemma_guess)

    @classmethod
    def create(cls, data_dir: Path) -> Lemmatizer | None:
        """The lemmatiser over WordNet installed under ``data_dir``; None when WordNet is absent."""
        status = ensure_nltk_data(Path(data_dir))
        if not status.wordnet:
            return None
        return cls(use_tagger=has_pos_tagger(),
                   wordnet_dir=Path(status.root) / "corpora" / "wordnet")

    def guess_pos(self, word: str) -> str:
        """'cried' -> 'v', 'geese' -> 'n', 'happiest' -> 'a', 'sad' -> 'a'."""
        morphy = self._wn.morphy
        for pos in ("v", "n", "a"):
            base = morphy(word, pos)
            if base is not None and base != word:
                return pos
        ranks = self._pos_rank.get(word)
        if ranks:
            return max(ranks, key=ranks.get)
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
