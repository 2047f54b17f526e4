"""Rules for the default knowledge base and its QA set (issue 3, item 1).

Checks the shipped files only: document count and size, formats, file names, and every QA
record's shape (fields, types, four distinct choices holding the answer, answer present in its
source document, split values and proportion, unique questions, every document sourced at least
twice). It does not check retrieval or generation quality; the RAG tests do that.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from core.evaluation.metrics import is_bare_number

KNOWLEDGE = Path(__file__).parents[1] / "assets" / "knowledge"
DOCS_DIR = KNOWLEDGE / "default"
QA_PATH = KNOWLEDGE / "default_qa.jsonl"

MIN_DOCS = 26
MIN_WORDS = 13_000
MIN_QUESTIONS = 130
TRAIN_FRACTION = (0.25, 0.35)
QA_FIELDS = {"question", "answer", "aliases", "choices", "source", "split"}
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.(?:md|txt)$")
# Question words and glue ignored when matching a question's key terms to its source paragraph.
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "what which when where who whom how many much does did is are was were the of in on at to"
        " for by with from and or do have has its it this that their there be been after before"
        " per each every new can must should about into than more most long often far old first",
    )
)


def _docs() -> list[Path]:
    return sorted(p for p in DOCS_DIR.iterdir() if p.is_file())


def _records() -> list[dict]:
    lines = QA_PATH.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _stems(text: str) -> set[str]:
    """Crude content-word stems: lowercase words of 3+ letters, stopwords dropped, cut to 5.

    Example: "How long is the pier?" -> {"pier"}; "recalibrated" -> "recal".
    """
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w[:5] for w in words if len(w) >= 3 and w not in STOPWORDS}


def _answer_contexts(text: str, answer: str) -> list[str]:
    """Each paragraph holding the answer, joined with the paragraph (or heading) before it."""
    blocks = [b for b in re.split(r"\n\s*\n", text) if b.strip()]
    return [
        (blocks[i - 1] if i else "") + "\n" + block
        for i, block in enumerate(blocks)
        if answer.lower() in block.lower()
    ]


def _qa_ids() -> list[str]:
    return [f"q{i:03d}" for i in range(len(_records()))]


def test_document_count_and_formats() -> None:
    docs = _docs()
    assert len(docs) >= MIN_DOCS, f"only {len(docs)} documents"
    suffixes = Counter(p.suffix for p in docs)
    assert set(suffixes) == {".md", ".txt"}, suffixes
    assert suffixes[".md"] >= 5 and suffixes[".txt"] >= 5, suffixes


@pytest.mark.parametrize("path", _docs(), ids=lambda p: p.name)
def test_document_name_and_content(path: Path) -> None:
    assert NAME_RE.match(path.name), f"bad file name {path.name!r}"
    text = path.read_text(encoding="utf-8")
    assert len(text.split()) >= 250, f"{path.name} is too short"
    if path.suffix == ".md":
        assert re.search(r"^# \S", text, re.MULTILINE), f"{path.name} has no top heading"


def test_total_word_count() -> None:
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in _docs())
    assert words >= MIN_WORDS, f"only {words} words"


def test_qa_count_and_unique_questions() -> None:
    records = _records()
    assert len(records) >= MIN_QUESTIONS, f"only {len(records)} questions"
    normalised = Counter(" ".join(r["question"].lower().split()) for r in records)
    duplicates = [q for q, n in normalised.items() if n > 1]
    assert not duplicates, duplicates


@pytest.mark.parametrize("index", range(len(_records())), ids=_qa_ids())
def test_qa_record(index: int) -> None:
    record = _records()[index]
    assert set(record) == QA_FIELDS, set(record) ^ QA_FIELDS
    question, answer = record["question"], record["answer"]
    assert isinstance(question, str) and question.strip().endswith("?"), question
    assert isinstance(answer, str) and answer.strip() == answer and answer, answer
    assert 1 <= len(answer.split()) <= 5, f"answer too long: {answer!r}"
    aliases = record["aliases"]
    assert isinstance(aliases, list) and all(isinstance(a, str) and a for a in aliases)
    assert answer not in aliases
    choices = record["choices"]
    assert isinstance(choices, list) and len(choices) == 4
    assert all(isinstance(c, str) and c.strip() for c in choices)
    assert len(set(choices)) == 4, f"duplicate choices {choices}"
    assert choices.count(answer) == 1, f"answer {answer!r} not exactly in {choices}"
    assert record["split"] in {"train", "dev", "test"}
    if not is_bare_number(answer):  # a number answer needs its unit: no bare-number alias
        assert not any(is_bare_number(a) for a in aliases), (answer, aliases)
    source = DOCS_DIR / record["source"]
    assert source.is_file(), f"missing source {record['source']}"
    text = source.read_text(encoding="utf-8").lower()
    assert answer.lower() in text, f"{answer!r} not found in {record['source']}"
    others = [c for c in choices if c != answer]
    assert not any(c.lower() == answer.lower() for c in others)
    contexts = _answer_contexts(source.read_text(encoding="utf-8"), answer)
    assert contexts, f"{answer!r} only spans paragraphs in {record['source']}"
    overlap = max(len(_stems(question) & _stems(c)) for c in contexts)
    assert overlap >= 1, f"no key term of {question!r} near {answer!r} in {record['source']}"


def test_stems_known_answer() -> None:
    assert _stems("How long is the concrete pier?") == {"concr", "pier"}
    assert _answer_contexts("# Pier\n\nIt is 140 metres.", "140 metres") == [
        "# Pier\nIt is 140 metres."
    ]


def test_train_fraction() -> None:
    splits = Counter(r["split"] for r in _records())
    fraction = splits["train"] / sum(splits.values())
    assert TRAIN_FRACTION[0] <= fraction <= TRAIN_FRACTION[1], splits


def test_correct_choice_position_is_shuffled() -> None:
    positions = Counter(r["choices"].index(r["answer"]) for r in _records())
    assert len(positions) == 4, positions
    assert max(positions.values()) <= 0.4 * sum(positions.values()), positions


def test_every_document_is_sourced_at_least_twice() -> None:
    counts = Counter(r["source"] for r in _records())
    thin = {p.name: counts[p.name] for p in _docs() if counts[p.name] < 2}
    assert not thin, f"documents with fewer than 2 questions: {thin}"


def test_both_splits_cover_many_documents() -> None:
    records = _records()
    for split in ("train", "dev", "test"):
        sources = {r["source"] for r in records if r["split"] == split}
        assert len(sources) >= len(_docs()) // 2, (split, len(sources))
