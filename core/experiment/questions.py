"""Held-out questions derived from a knowledge base's own sentences, with same-type choices.

For an analyst who has documents but no QA file: every sentence of the base is scanned for
typed values (dates, years, times, amounts of money, percentages, counts, codes, names); one
value per sentence becomes the answer of a question that asks for it *in a wording the training
recipe never uses*: the sentence itself with the value replaced by a question phrase ("The
cooperative was formed in which year, two years after ...?"). The recipe trains on the
sentences, on rewordings of them and on fill-in-the-blank questions, never on this wording;
:func:`drop_trained` removes any question that appears verbatim in the training examples
anyway, and a test checks it against the recipe's real examples.

Choices are four: the answer and three other values *of the same type found in the same base*,
none of which occurs in the question's own sentence (so exactly one choice is right). A value
type with fewer than four distinct values in the base yields no questions. Questions are
spread over the documents (round robin) and capped at ``max_questions``. Left out: any model
(this is deterministic text processing) and scoring (:mod:`core.evaluation`).

Example:
    >>> typed_values("The line opened on 3 April 1994 at 06:40 for £380,000.")
    [('date', '3 April 1994'), ('time', '06:40'), ('money', '£380,000')]
    >>> ask("The line opened in 1994.", "1994", "year")
    'The line opened in which year?'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import UserError
from core.qa import QAItem

MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|"
          "December")
#: Value types in priority order (an earlier type wins where two overlap), each with its
#: pattern and the phrase that replaces the value in the question.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date", re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)? (?:{MONTHS})(?: \d{{4}})?\b"
                        rf"|\b(?:{MONTHS}) \d{{1,2}}(?:, \d{{4}})?\b")),
    ("money", re.compile(r"[£$€]\s?\d{1,3}(?:,\d{3})*(?:\.\d+)?(?:\s?(?:million|bn|m)\b)?")),
    ("time", re.compile(r"\b\d{1,2}:\d{2}\b")),
    ("percent", re.compile(r"\b\d+(?:\.\d+)?\s?(?:%|per cent|percent)")),
    ("code", re.compile(r"\b(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{2,}(?:-[A-Z0-9]+)*\b")),
    ("year", re.compile(r"(?<!\d )\b(?:1[6-9]|20)\d{2}\b(?![.,:]\d|-\w| \d)")),
    # a count or measure; not a digit group of a phone number or serial ("0341 558 2090")
    ("number", re.compile(r"(?<![\w.,:£$€-])(?<!\d )(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
                          r"(?![\w.,:%-]|\.\d|\s?(?:%|per cent)| \d)")),
    ("name", re.compile(r"\b[A-Z][a-z][\w'’]*(?:\s(?:of\s|de\s|the\s)?[A-Z][a-z][\w'’]*)+")),
)
TYPES = tuple(name for name, _ in PATTERNS)
PHRASE = {"date": "what date", "money": "how much", "time": "what time",
          "percent": "what percentage", "code": "which code", "year": "which year",
          "number": "how many", "name": "which name"}
#: The preposition a date, time or year question adds when the sentence has none before it.
PREPOSITION = {"date": "on ", "time": "at ", "year": "in "}
_PREPOSITION_BEFORE = re.compile(
    r"\b(?:on|in|at|from|to|until|till|by|after|before|since|of|between|and)\s$", re.IGNORECASE)
#: Which value of a sentence is asked about, first choice first.
PREFERRED = ("date", "money", "year", "time", "percent", "code", "name", "number")
_NOT_NAME_WORDS = {"the", "a", "an", "in", "on", "at", "by", "from", "to", "for", "every",
                   "each", "all", "some", "most", "if", "when", "after", "before", "this",
                   "these", "that", "those", "our", "its", "their", "his", "her", "and", "but",
                   "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                   "or", "with", "between", "during", "since", "until", "under", "over", "both"}
CHOICES = 4
MIN_WORDS, MAX_CHARS = 7, 320
_LINE_MARK = re.compile(r"^\s*(?:#{1,6}\s+|[-*•]\s+|\d+[.)]\s+|\|)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")


@dataclass(frozen=True)
class Fact:
    """One typed value in one sentence of one document."""

    document: str
    sentence: str
    value: str
    kind: str


def sentences(text: str) -> list[str]:
    """Sentences of ``text``, one paragraph line at a time (headings and table rules dropped).

    Example: ``sentences("# Title\\n\\nOne two. Three four.") == ["One two.", "Three four."]``.
    """
    out: list[str] = []
    for line in text.splitlines():
        line = _LINE_MARK.sub("", line).replace("**", "").replace("__", "").strip()
        if not line or line.startswith("#") or "|" in line:  # headings, table rows
            continue
        out += [s.strip() for s in _SENTENCE_END.split(line) if s.strip()]
    return out


def typed_values(sentence: str) -> list[tuple[str, str]]:
    """(type, value) for every typed value of ``sentence`` in order; overlaps go to the
    earlier type of :data:`PATTERNS` (a year inside a date is part of the date)."""
    taken: list[tuple[int, int, str]] = []
    for kind, pattern in PATTERNS:
        for m in pattern.finditer(sentence):
            start, end = m.span()
            if start == 0 and kind != "name":  # "How many ..." would start the question
                continue
            if kind == "name":  # "The Valley Line" -> "Valley Line"; "In March" is no name
                first = m.group(0).split()[0]
                if first.lower() in _NOT_NAME_WORDS:
                    start += len(first) + 1
                    if " " not in sentence[start:end]:
                        continue
            if any(s < end and start < e for s, e, _ in taken):
                continue
            taken.append((start, end, kind))
    taken.sort()
    return [(kind, sentence[s:e].strip()) for s, e, kind in taken]


def ask(sentence: str, value: str, kind: str) -> str:
    """The question: ``sentence`` with ``value`` replaced by its type's phrase, ending in "?".

    Example: ``ask("Tickets cost £4.50 each.", "£4.50", "money")`` ->
    ``'Tickets cost how much each?'``.
    """
    start = sentence.index(value)
    before, after = sentence[:start], sentence[start + len(value):]
    phrase = PHRASE[kind]
    if kind == "name" and re.search(r"\b[Tt]he\s$", before):
        before = before[:-4]  # "the which name" -> "which name"
    if kind in PREPOSITION and before and not _PREPOSITION_BEFORE.search(before):
        phrase = PREPOSITION[kind] + phrase  # "valid until 5 May" keeps "until"
    text = (before + phrase + after).strip()
    text = re.sub(r"[.!;:]+$", "", text).rstrip()
    return text[0].upper() + text[1:] + "?"


def kb_facts(chunks: Iterable) -> list[Fact]:
    """Every (document, sentence, typed value) of the chunks (objects with ``document`` and
    ``text``), each sentence once even where chunks overlap."""
    seen: set[tuple[str, str]] = set()
    facts: list[Fact] = []
    for chunk in chunks:
        for sentence in sentences(chunk.text):
            if (chunk.document, sentence) in seen:
                continue
            seen.add((chunk.document, sentence))
            for kind, value in typed_values(sentence):
                facts.append(Fact(chunk.document, sentence, value, kind))
    return facts


def _norm(value: str) -> str:
    return re.sub(r"[\s,]+", "", value.lower())


def _rank(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _distractors(fact: Fact, pool: Sequence[str]) -> list[str]:
    """Three values of the fact's type from the base: none equal to the answer (ignoring case,
    spaces and commas), none inside the sentence, chosen by a stable hash."""
    taken = {_norm(fact.value)}
    inside = _norm(fact.sentence)
    if fact.kind == "number":  # counts among counts, measures with decimals among those
        pool = [v for v in pool if ("." in v) == ("." in fact.value)]
    out: list[str] = []
    for value in sorted(pool, key=lambda v: _rank(fact.sentence + "\0" + v)):
        key = _norm(value)
        if key in taken or key in inside or _norm(fact.value) in key:
            continue
        taken.add(key)
        out.append(value)
        if len(out) == CHOICES - 1:
            break
    return out


def _usable(fact: Fact) -> bool:
    words = len(fact.sentence.split())
    return (words >= MIN_WORDS and len(fact.sentence) <= MAX_CHARS
            and fact.sentence.count(fact.value) == 1
            and len(fact.value) <= 0.5 * len(fact.sentence))


def derive_questions(chunks: Iterable, *, max_questions: int = 24) -> list[QAItem]:
    """Up to ``max_questions`` questions (see the module docstring), spread over documents and
    value types; ids ``g1``, ``g2``, ...; ``extra`` holds type, sentence and document."""
    if max_questions < 1:
        raise UserError(f"max_questions must be at least 1, got {max_questions}")
    facts = kb_facts(chunks)
    pools: dict[str, list[str]] = {}
    for f in facts:
        pool = pools.setdefault(f.kind, [])
        if f.value not in pool:
            pool.append(f.value)
    by_sentence: dict[tuple[str, str], list[Fact]] = {}
    for fact in facts:
        by_sentence.setdefault((fact.document, fact.sentence), []).append(fact)
    per_doc: dict[str, dict[str, list[QAItem]]] = {}
    for (document, _sentence), options in by_sentence.items():
        for fact in sorted(options, key=lambda f: PREFERRED.index(f.kind)):
            if not _usable(fact):
                continue
            wrong = _distractors(fact, pools[fact.kind])
            if len(wrong) < CHOICES - 1:
                continue
            choices = sorted([fact.value, *wrong], key=lambda v: _rank(fact.value + v))
            item = QAItem(ask(fact.sentence, fact.value, fact.kind), fact.value,
                          _aliases(fact), tuple(choices), fact.document, "test", "",
                          {"type": fact.kind, "sentence": fact.sentence, "derived": True})
            per_doc.setdefault(document, {}).setdefault(fact.kind, []).append(item)
            break  # one question per sentence
    # each document's questions with the value types taking turns, then documents taking turns
    per_doc_lists = {d: _take_turns([kinds[k] for k in PREFERRED if k in kinds])
                     for d, kinds in per_doc.items()}
    ordered = _take_turns([per_doc_lists[d] for d in sorted(per_doc_lists)])[:max_questions]
    return [QAItem(**{**item.__dict__, "id": f"g{i}"}) for i, item in enumerate(ordered, 1)]


def _take_turns(queues: list[list[QAItem]]) -> list[QAItem]:
    """Round robin: ``[[a1, a2], [b1]] -> [a1, b1, a2]``."""
    out: list[QAItem] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def _aliases(fact: Fact) -> tuple[str, ...]:
    """A money amount without its currency sign also counts ("380,000" for "£380,000")."""
    if fact.kind == "money":
        return (fact.value.lstrip("£$€ "),)
    return ()


def drop_trained(items: Sequence[QAItem], training_texts: Iterable[str]) -> list[QAItem]:
    """The items whose question appears verbatim in none of ``training_texts`` (the prompts
    and targets fine-tuning trains on); case and spacing ignored."""
    texts = [" ".join(t.lower().split()) for t in training_texts]
    return [item for item in items
            if not any(" ".join(item.question.lower().split()) in t for t in texts)]


def rows(items: Sequence[QAItem]) -> list[dict]:
    """Items as plain dicts for tables and JSON (the QA file's fields plus ``type``)."""
    return [{**item.to_dict(), "type": item.extra.get("type", ""),
             "sentence": item.extra.get("sentence", "")} for item in items]


def from_rows(data: Sequence[dict]) -> list[QAItem]:
    """Items back from edited rows (a table the user reviewed): each is validated like a QA
    file line (:func:`core.qa.parse_item`); rows marked ``drop`` are left out."""
    from core.qa import parse_item

    items: list[QAItem] = []
    for number, row in enumerate(data, 1):
        if row.get("drop"):
            continue
        fields = {k: row.get(k) for k in ("question", "answer", "aliases", "choices", "source",
                                          "split", "id") if row.get(k) is not None}
        fields.setdefault("split", "test")
        item = parse_item(fields, f"question {number}")
        extra = {"type": row.get("type", ""), "sentence": row.get("sentence", "")}
        items.append(QAItem(**{**item.__dict__, "id": item.id or f"q{number}", "extra": extra}))
    if not items:
        raise UserError("no questions left: keep at least one")
    return items
