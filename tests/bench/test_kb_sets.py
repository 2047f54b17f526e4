"""Rules for the benchmark knowledge bases in ``bench/data/kbs/<set>/`` (docs/ + qa.jsonl).

Each set imitates an unseen customer knowledge base: five short documents on an invented topic
and 24 test questions. Every QA file is loaded through the app's own loader
(:func:`core.qa.load_qa_file`), then each item is checked: four distinct choices with exactly
one of them correct, a source document that exists, the answer (or an alias) written in that
document, a short answer, and a question that does not copy a run of the document's words.
Across a set: 24 unique test-split questions, every document asked about 4 to 6 times, and the
correct choice spread over all four positions. Retrieval or answer quality is not checked here.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from core.qa import QAItem, load_qa_file

KBS = Path(__file__).resolve().parents[2] / "bench" / "data" / "kbs"
SET_NAMES = ("island-council", "protein-lab-wiki", "valley-railway")
N_DOCS = 5
N_QUESTIONS = 24
DOC_WORDS = (250, 450)
QUESTIONS_PER_DOC = (4, 6)
COPIED_RUN = 5  # a question sharing this many consecutive words with its document copies it
NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.(?:md|txt)$")


def _docs(name: str) -> dict[str, str]:
    folder = KBS / name / "docs"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.is_file()}


def _items(name: str) -> list[QAItem]:
    return load_qa_file(KBS / name / "qa.jsonl")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _runs(words: list[str], n: int) -> set[tuple[str, ...]]:
    """All runs of ``n`` consecutive words. Example: (["a", "b", "c"], 2) -> {(a, b), (b, c)}."""
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _item_ids() -> list[tuple[str, int]]:
    return [(name, i) for name in SET_NAMES for i in range(N_QUESTIONS)]


def test_the_sets_on_disk_are_the_expected_ones() -> None:
    found = sorted(p.name for p in KBS.iterdir() if p.is_dir())
    assert found == sorted(SET_NAMES)


def test_runs_helper() -> None:
    assert _runs(["a", "b", "c"], 2) == {("a", "b"), ("b", "c")}
    assert _runs(["a"], 2) == set()


@pytest.mark.parametrize("name", SET_NAMES)
def test_documents_count_names_and_length(name: str) -> None:
    docs = _docs(name)
    assert len(docs) == N_DOCS, sorted(docs)
    for file_name, text in docs.items():
        assert NAME_RE.match(file_name), f"bad file name {file_name!r}"
        words = len(text.split())
        assert DOC_WORDS[0] <= words <= DOC_WORDS[1], f"{file_name} has {words} words"
        if file_name.endswith(".md"):
            assert re.search(r"^# \S", text, re.MULTILINE), f"{file_name} has no top heading"


@pytest.mark.parametrize("name", SET_NAMES)
def test_qa_file_has_24_unique_test_questions(name: str) -> None:
    items = _items(name)
    assert len(items) == N_QUESTIONS
    assert {item.split for item in items} == {"test"}
    normalised = Counter(" ".join(_words(item.question)) for item in items)
    assert [q for q, n in normalised.items() if n > 1] == []
    assert all(item.question.endswith("?") for item in items)


@pytest.mark.parametrize(("name", "index"), _item_ids(), ids=lambda v: str(v))
def test_qa_item(name: str, index: int) -> None:
    item = _items(name)[index]
    assert len(item.choices) == 4, item.choices
    assert len({c.strip().lower() for c in item.choices}) == 4, f"repeated choice {item.choices}"
    golds = {g.strip().lower() for g in item.golds}
    correct = [c for c in item.choices if c.strip().lower() in golds]
    assert item.correct_choice is not None and len(correct) == 1, (item.golds, item.choices)
    assert 1 <= len(item.answer.split()) <= 5, f"answer too long: {item.answer!r}"
    docs = _docs(name)
    assert item.source in docs, f"{item.source!r} is not a document of {name}"
    text = docs[item.source].lower()
    assert any(g in text for g in golds), f"no form of {item.answer!r} in {item.source}"
    copied = _runs(_words(item.question), COPIED_RUN) & _runs(_words(text), COPIED_RUN)
    assert not copied, f"{item.question!r} copies {' '.join(sorted(copied)[0])!r}"


@pytest.mark.parametrize("name", SET_NAMES)
def test_questions_spread_over_every_document(name: str) -> None:
    counts = Counter(item.source for item in _items(name))
    low, high = QUESTIONS_PER_DOC
    assert {doc: counts[doc] for doc in _docs(name) if not low <= counts[doc] <= high} == {}


@pytest.mark.parametrize("name", SET_NAMES)
def test_correct_choice_position_is_shuffled(name: str) -> None:
    positions = Counter(item.correct_choice for item in _items(name))
    assert set(positions) == {0, 1, 2, 3}, positions
    assert max(positions.values()) <= 0.4 * N_QUESTIONS, positions
