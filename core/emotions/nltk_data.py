"""Build an ``NLTK_DATA`` root from local sources, never ``nltk.download``.

WordNet 3.0 comes from Debian's ``wordnet-base`` (``/usr/share/wordnet``): its files are COPIED
(NLTK 3.10 rejects symlinked data) into ``<data_dir>/nltk_data/corpora/wordnet/`` together with
a generated ``lexnames`` file (the 45 lexicographer file names, numbered 00-44, which Debian does
not ship). The root is added to ``nltk.data.path``. Punkt is not needed (``TweetTokenizer``
needs no data). If WordNet is absent, :func:`ensure_nltk_data` reports why and the pipeline
runs without lemmatisation.

Example:
    >>> status = ensure_nltk_data(Path("/tmp/appdata"))  # doctest: +SKIP
    >>> status.wordnet, status.message
    (True, 'WordNet 3.0 from /usr/share/wordnet')
"""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from core.atomic import atomic_dir

DEBIAN_WORDNET = Path("/usr/share/wordnet")
#: Files NLTK's WordNetCorpusReader opens (data/index per POS, exception lists, sense index).
WORDNET_FILES = [f"{kind}.{pos}" for kind in ("data", "index") for pos in
                 ("noun", "verb", "adj", "adv")] + [
    f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")] + ["index.sense", "cntlist.rev"]
#: WordNet's lexicographer files in number order (wninput(5WN)); the last column is the
#: syntactic category (1 noun, 2 verb, 3 adjective, 4 adverb).
_NOUN_FILES = ("Tops act animal artifact attribute body cognition communication event feeling "
               "food group location motive object person phenomenon plant possession process "
               "quantity relation shape state substance time")
_VERB_FILES = ("body change cognition communication competition consumption contact creation "
               "emotion motion perception possession social stative weather")
LEXNAMES = (
    [("adj.all", 3), ("adj.pert", 3), ("adv.all", 4)]
    + [(f"noun.{n}", 1) for n in _NOUN_FILES.split()]
    + [(f"verb.{n}", 2) for n in _VERB_FILES.split()]
    + [("adj.ppl", 3)]
)
INSTALL_HINT = "lemmatisation unavailable: install wordnet-base (apt-get install wordnet-base)"
_lock = threading.Lock()


@dataclass(frozen=True)
class NltkStatus:
    """What local NLTK data is usable: ``wordnet`` drives the lemmatisation step."""

    root: Path
    wordnet: bool
    message: str


def lexnames_text() -> str:
    """The ``lexnames`` file: ``00\\tadj.all\\t3`` ... ``44\\tadj.ppl\\t3`` (45 lines)."""
    return "".join(f"{i:02d}\t{name}\t{cat}\n" for i, (name, cat) in enumerate(LEXNAMES))


def _install_wordnet(source: Path, target: Path) -> None:
    with atomic_dir(target) as tmp:
        for name in WORDNET_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, tmp / name)
        (tmp / "lexnames").write_text(lexnames_text(), encoding="ascii")
        (tmp / "LICENSE").write_text("WordNet 3.0 license: see /usr/share/doc/wordnet-base\n")


def ensure_nltk_data(data_dir: Path, source: Path = DEBIAN_WORDNET) -> NltkStatus:
    """Create (once) ``<data_dir>/nltk_data`` and put it on ``nltk.data.path``."""
    import nltk

    root = Path(data_dir) / "nltk_data"
    target = root / "corpora" / "wordnet"
    with _lock:
        if str(root) not in nltk.data.path:
            nltk.data.path.insert(0, str(root))
        if not (target / "lexnames").is_file():
            missing = [n for n in WORDNET_FILES[:12] if not (source / n).is_file()]
            if missing:
                return NltkStatus(root, False, f"{INSTALL_HINT} ({source}/{missing[0]} missing)")
            target.parent.mkdir(parents=True, exist_ok=True)
            _install_wordnet(source, target)
    return NltkStatus(root, True, f"WordNet 3.0 from {source}")


def has_pos_tagger() -> bool:
    """Whether NLTK's averaged-perceptron tagger data is installed (it is optional)."""
    import nltk

    try:
        nltk.data.find("taggers/averaged_perceptron_tagger_eng/")
    except LookupError:
        return False
    return True
