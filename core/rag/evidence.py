"""Evidence sentences and a grounding check that keep a small reader on its context.

A 135M reader given three whole chunks copies from the wrong one or invents names; given the
two sentences that best match the question it answers far more often (docs/rag.md has the
numbers). So a retrieving mode:

1. :func:`focus`: splits the retrieved chunks into sentences (markdown headings dropped) and
   keeps the ``k`` that best match the question (cosine similarity of the retrieval embedder's
   vectors plus an IDF-weighted word overlap), best last (next to the question in the prompt),
   plus the best one's passage (it and the sentence after it).
2. :func:`grounded`: after generation, checks that the answer says something the evidence
   supports: it has at least one content word that is not in the question, and every such word
   occurs in the evidence.
3. :func:`finish`: keeps a grounded answer; otherwise answers with the best sentence's passage
   (extractive fallback, i.e. answer sentence selection as in WikiQA, Yang et al. 2015) and
   marks the result ``extractive`` so pages and exports can tell the two apart.

Example:
    >>> grounded("It was founded in 1931.", "Kestrane was founded in 1931 by Odile Varnasse.",
    ...          "When was Kestrane founded?")
    True
    >>> grounded("Dr. Elena Vergara", "The director is Dr. Hollis Bramwen.", "Who is director?")
    False
    >>> grounded("The answer to this question is:", "Anything at all.", "What is it?")
    False
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

#: Words that carry no content of their own (answers' filler, question words).
FILLER = frozenset({
    "a", "an", "the", "of", "in", "on", "at", "to", "and", "or", "by", "for", "with", "from",
    "is", "was", "are", "were", "be", "been", "as", "its", "it", "this", "that", "which", "who",
    "whom", "whose", "what", "when", "where", "why", "how", "does", "do", "did", "has", "have",
    "had", "there", "their", "his", "her", "they", "he", "she", "we", "you", "i", "answer",
    "question"
})
#: Weight of the lexical (IDF) overlap next to cosine similarity; set once at 0.5, not tuned.
LEXICAL_WEIGHT = 0.5
_WORD = re.compile(r"[a-z0-9]+(?:['.,-][a-z0-9]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n+|\n(?=\s*(?:[-*]|\d+\.)\s)")
_HEADING = re.compile(r"^\s*#.*$", re.M)


@dataclass(frozen=True)
class Finished:
    """The answer a user sees; ``generated`` is the model's own text when it was replaced."""

    text: str
    extractive: bool = False
    generated: str = ""


def content_words(text: str) -> list[str]:
    """Lower-cased words minus :data:`FILLER`: ``content_words("The 1931 Dome")`` ->
    ``['1931', 'dome']``."""
    return [w for w in _WORD.findall(text.lower()) if w not in FILLER]


def sentences(text: str) -> list[str]:
    """A chunk's sentences and list items, headings dropped; fragments of < 4 characters go."""
    body = _HEADING.sub("", text)
    return [s.strip() for s in _SENTENCE_END.split(body) if len(s.strip()) >= 4]


@dataclass(frozen=True)
class Evidence:
    """What a retrieving mode shows the model (``sentences``, best last) and what it answers
    with when the model's answer is not grounded (``passage``: the best sentence and the one
    after it in its chunk, where answers often continue: "... served until automation. The
    light was automated in 1986.")."""

    sentences: list[str]
    passage: str


def focus(question: str, texts: Sequence[str], embedder, k: int = 1) -> Evidence | None:
    """The ``k`` sentences of ``texts`` that best match ``question`` (weakest first) and the
    best one's passage; None when the texts have no sentence.

    Score = cosine similarity of the embedder's vectors (one call for the question and every
    sentence: ~20 ms for 3 chunks) + :data:`LEXICAL_WEIGHT` x the IDF-weighted share of the
    question's content words the sentence contains, IDF ``log((n + 1) / (df + 0.5))`` over the
    n retrieved sentences: words they all share (the topic's name) count little, the words that
    single out the asked fact ("based", "town") count most.
    """
    import numpy as np

    chunks = [sentences(t) for t in texts]
    where = {}  # sentence -> (chunk, position) of its first occurrence
    for c, chunk in enumerate(chunks):
        for i, sentence in enumerate(chunk):
            where.setdefault(sentence, (c, i))
    pool = list(where)
    if not pool:
        return None
    vectors = np.asarray(embedder.encode([question, *pool], normalize_embeddings=True))
    score = vectors[1:] @ vectors[0] + LEXICAL_WEIGHT * _idf_overlap(question, pool)
    best = np.argsort(-score, kind="stable")[:k]
    c, i = where[pool[best[0]]]
    passage = " ".join(chunks[c][i:i + 2])
    return Evidence([pool[j] for j in best[::-1]], passage)


def _idf_overlap(question: str, pool: list[str]):
    """Per sentence: the IDF-weighted share of the question's content words it contains."""
    import math

    import numpy as np

    words = [set(content_words(s)) for s in pool]
    asked = set(content_words(question))
    idf = {t: math.log((len(pool) + 1) / (sum(t in w for w in words) + 0.5)) for t in asked}
    total = sum(idf.values()) or 1.0
    return np.array([sum(idf[t] for t in asked if t in w) / total for w in words])


def grounded(answer: str, evidence: str, question: str) -> bool:
    """Whether ``answer`` adds content and all of it occurs in ``evidence`` (module doc); a
    question (ending in "?") is never an answer."""
    if answer.rstrip().endswith("?"):
        return False
    asked = set(content_words(question))
    new = [w for w in content_words(answer) if w not in asked]
    known = set(content_words(evidence))
    return bool(new) and all(w in known for w in new)


def finish(answer: str, evidence: Evidence | None, question: str) -> Finished:
    """``answer`` if grounded in the evidence sentences, else the evidence passage."""
    if evidence is None or grounded(answer, " ".join(evidence.sentences), question):
        return Finished(answer)
    return Finished(evidence.passage, extractive=True, generated=answer)
