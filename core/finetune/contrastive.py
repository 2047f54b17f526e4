"""Facts that keep their own value: look-alike contrasts, entity relations, question-shaped clozes.

The knowledge recipe (:mod:`core.finetune.recipe`) teaches each fact in several wordings; a
multiple-choice question then asks the model to prefer the right value over *look-alikes*
from the same knowledge base (``PEG-EQ-012`` vs ``PEG-EQ-021``, ``18,000`` vs ``12,000``).
This module adds three templated kinds (no model call, deterministic) aimed at that:

* **contrastive** (:func:`contrastive_examples`): for a fact whose value has look-alikes in
  the knowledge base (:func:`look_alikes`: the same shape, digits as 0, or the same digits),
  a question that names the value and one look-alike and is answered with the value (loss on
  the value only), and a statement that pairs each value with its own subject and says the
  look-alike is a different fact, with the look-alike's own sentence.
* **relation** (:func:`relation_texts`): EntiGraph-style rewrites (Yang et al., ICLR 2025,
  "Synthetic continued pretraining"), templated: two entities of two sentences of the same
  document, a sentence relating them, then both source sentences whole, so every number and
  name survives (tested).
* **wh-question** (:func:`wh_question`): the sentence with its span replaced by a question
  word, a question the way users ask ("The group meets on which day?") rather than a blank.

Every derived text keeps every number of its source sentence(s).

Example:
    >>> span_shape("PEG-EQ-012"), span_shape("18,000 x g")
    ('PEG-EQ-000', '00,000 x g')
    >>> wh_question("The lab meets on Tuesday.", "Tuesday")
    'The lab meets on what?'
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.finetune.data import TrainExample

MAX_LOOK_ALIKES = 2
_DIGIT = re.compile(r"\d")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"^(?:1[6-9]|20)\d\d$")


@dataclass(frozen=True)
class Fact:
    """One answer-like span of one sentence of one document."""

    document: str  # the document's title, as the recipe names it
    sentence: str
    span: str


def span_shape(span: str) -> str:
    """The span with every digit as 0: values of one kind share a shape."""
    return _DIGIT.sub("0", span)


def _digits(span: str) -> str:
    return "".join(_DIGITS.findall(span))


def look_alikes(facts: Sequence[Fact]) -> dict[Fact, list[Fact]]:
    """For each fact, up to ``MAX_LOOK_ALIKES`` facts elsewhere in the knowledge base whose
    value looks like its own but differs: the same shape (numbers and codes) or the same
    digits under other letters (``PEG-4471`` / ``CVB-4471``); names (no digit) of the same
    number of words. The most similar strings first (difflib ratio).

    Example: facts with spans ``PEG-EQ-012``, ``PEG-EQ-021`` and ``Tuesday`` -> the first two
    are each other's look-alike; ``Tuesday`` has none.
    """
    out: dict[Fact, list[Fact]] = {}
    for fact in facts:
        shape, digits = span_shape(fact.span), _digits(fact.span)
        words = len(fact.span.split())
        similar = []
        for other in facts:
            if other.span == fact.span:
                continue
            if digits:
                alike = span_shape(other.span) == shape or (_digits(other.span) == digits)
            else:
                alike = not _digits(other.span) and len(other.span.split()) == words
            if alike:
                similar.append(other)
        seen: set[str] = set()
        ranked = []
        for other in sorted(similar, key=lambda o: -difflib.SequenceMatcher(
                None, fact.span, o.span).ratio()):
            if other.span not in seen:
                seen.add(other.span)
                ranked.append(other)
        if ranked:
            out[fact] = ranked[:MAX_LOOK_ALIKES]
    return out


def _flip(key: str) -> bool:
    return hashlib.sha256(key.encode()).digest()[0] % 2 == 1


def question_word(span: str) -> str:
    """``which year`` for a year, ``what`` otherwise (names included: the sentence says who)."""
    return "which year" if _YEAR.match(span) else "what"


def wh_question(sentence: str, span: str) -> str:
    """``sentence`` with its first ``span`` as a question word, ending in a question mark."""
    text = sentence.replace(span, question_word(span), 1).rstrip()
    return re.sub(r"[.!;:]+$", "", text) + "?"


def cloze_text(sentence: str, span: str) -> str:
    return sentence.replace(span, "____", 1)


def contrastive_examples(facts: Sequence[Fact], ask: Callable[[str], str]
                         ) -> list[TrainExample]:
    """Per fact with look-alikes: one question naming the value and its closest look-alike (in
    an order fixed by a hash), answered with the value; one statement pairing each of the two
    values with its own sentence. ``ask`` turns a question into the fine-tuned mode's prompt."""
    examples: list[TrainExample] = []
    for fact, others in look_alikes(facts).items():
        other = others[0]
        pair = (other.span, fact.span) if _flip(fact.sentence + fact.span) else (
            fact.span, other.span)
        question = (f"In {fact.document}: \u201c{cloze_text(fact.sentence, fact.span)}\u201d "
                    f"Is it {pair[0]} or {pair[1]}?")
        examples.append(TrainExample(ask(question), fact.span, "contrastive"))
        for other in others[:1]:  # one statement per fact: they are long
            where = ("the same document" if other.document == fact.document
                     else other.document)
            text = (f"In {fact.document}: {fact.sentence} The value there is {fact.span}, not "
                    f"{other.span}; {other.span} is a different fact, in {where}: "
                    f"{other.sentence}")
            examples.append(TrainExample("", text, "contrast-statement"))
    return examples


def relation_texts(facts: Sequence[Fact]) -> list[TrainExample]:
    """EntiGraph-style templated rewrites: for each sentence of a document, its first entity
    and the first entity of the sentence two further on (wrapping), related in a sentence,
    followed by both sentences whole (module doc)."""
    by_doc: dict[str, list[Fact]] = {}
    firsts: dict[tuple[str, str], Fact] = {}
    for fact in facts:
        if (fact.document, fact.sentence) not in firsts:
            firsts[(fact.document, fact.sentence)] = fact
            by_doc.setdefault(fact.document, []).append(fact)
    out: list[TrainExample] = []
    for doc, firsts_of_doc in by_doc.items():
        n = len(firsts_of_doc)
        if n < 3:
            continue
        for i, a in enumerate(firsts_of_doc):
            b = firsts_of_doc[(i + 2) % n]
            if a.span == b.span:
                continue
            text = (f"How are {a.span} and {b.span} related? {doc} mentions both: "
                    f"{a.sentence} And: {b.sentence}")
            out.append(TrainExample("", text, "relation"))
    return out
