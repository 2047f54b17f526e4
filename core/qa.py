"""The one QA loader: JSONL files, one object per line (question, answer, aliases, choices,
source, split).

Retrieval (example questions), evaluation (scored runs), fine-tuning (training pairs) and the
benchmarks all read QA files through this module, which sits at the bottom layer so none of
them imports another to get it. Loading validates every row and names the line of the first bad
one, so an uploaded file either loads completely or is refused with a message the user can act
on. The train/dev/test split is kept on each item; training code asks for :func:`train_items`,
which refuses dev and test rows. Settings are chosen on dev and reported on test once. This
module reads and validates only; it scores nothing.

Example line::

    {"question": "Who founded Orbis?", "answer": "Ada Moreno", "aliases": ["Moreno"],
     "choices": ["Ada Moreno", "Ian Cole", "Li Wei", "Sam Roy"], "source": "history.md",
     "split": "test"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from core.settings import ASSETS_DIR

DEFAULT_QA_FILE = ASSETS_DIR / "knowledge" / "default_qa.jsonl"
#: train: what fine-tuning may read; dev: where settings are chosen; test: reported once.
SPLITS = ("train", "dev", "test")
MAX_QUESTION_CHARS = 2_000


@dataclass(frozen=True)
class QAItem:
    """One question with its gold answer, accepted aliases and four choices."""

    question: str
    answer: str
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    source: str = ""
    split: str = "test"
    id: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def golds(self) -> list[str]:
        """The answer followed by its aliases (what EM/F1 take the maximum over)."""
        return [self.answer, *self.aliases]

    @property
    def correct_choice(self) -> int | None:
        """Index of the choice equal to the answer or an alias (case-insensitive), if any."""
        wanted = {g.strip().lower() for g in self.golds}
        for i, choice in enumerate(self.choices):
            if choice.strip().lower() in wanted:
                return i
        return None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "question": self.question, "answer": self.answer,
                "aliases": list(self.aliases), "choices": list(self.choices),
                "source": self.source, "split": self.split}


def _str_list(value: object, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{where}: {name!r} must be a list of strings")
    return tuple(v for v in value if v.strip())


def parse_item(row: object, where: str) -> QAItem:
    """Validate one decoded JSON row into a :class:`QAItem` (``where`` names it in errors)."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object")
    question, answer = row.get("question"), row.get("answer")
    if not isinstance(question, str) or not question.strip():
        raise UserError(f"{where}: 'question' must be a non-empty string")
    if len(question) > MAX_QUESTION_CHARS:
        raise UserError(f"{where}: the question has {len(question):,} characters; the limit is "
                        f"{MAX_QUESTION_CHARS:,}")
    if not isinstance(answer, str) or not answer.strip():
        raise UserError(f"{where}: 'answer' must be a non-empty string")
    split = row.get("split", "test")
    if split not in SPLITS:
        raise UserError(f"{where}: 'split' must be one of {', '.join(SPLITS)}, got {split!r}")
    choices = _str_list(row.get("choices"), "choices", where)
    if choices and len(choices) < 2:
        raise UserError(f"{where}: 'choices' needs at least two options")
    source = row.get("source", "")
    if not isinstance(source, str):
        raise UserError(f"{where}: 'source' must be a string")
    known = {"question", "answer", "aliases", "choices", "source", "split", "id"}
    item = QAItem(question.strip(), answer.strip(), _str_list(row.get("aliases"), "aliases", where),
                  choices, source.strip(), split, str(row.get("id", "")),
                  {k: v for k, v in row.items() if k not in known})
    if choices and item.correct_choice is None:
        raise UserError(f"{where}: none of the choices equals the answer {answer!r}")
    return item


def parse_qa_text(text: str, name: str = "QA file") -> list[QAItem]:
    """Parse JSONL text; blank lines are skipped; an empty file is an error."""
    items: list[QAItem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{name} line {number}: not valid JSON ({exc.msg})") from None
        item = parse_item(row, f"{name} line {number}")
        items.append(item if item.id else QAItem(**{**item.__dict__, "id": f"q{number}"}))
    if not items:
        raise UserError(f"{name} has no questions")
    return items


def load_qa_file(path: Path | str, *, max_bytes: int | None = None) -> list[QAItem]:
    """Load and validate a QA JSONL file (refusing files over ``max_bytes``)."""
    path = Path(path)
    try:
        found = path.is_file()
    except (OSError, ValueError):  # a name the OS refuses (too long, NUL byte)
        found = False
    if not found:
        raise UserError(f"QA file not found: {str(path)[:200]}")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise UserError(f"{path.name} is {size / 1e6:.1f} MB; the limit is "
                        f"{max_bytes / 1e6:.0f} MB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path.name} is not UTF-8 text") from None
    return parse_qa_text(text, path.name)


def load_qa_rows(path: Path | str = DEFAULT_QA_FILE, split: str | None = None) -> list[dict]:
    """Validated items of ``path`` as plain dicts (for caches and tables); [] if it is absent.

    Example: ``load_qa_rows(split="train")[0]["split"] == "train"``.
    """
    if not Path(path).is_file():
        return []
    return [item.to_dict() for item in select_split(load_qa_file(path), split)]


def select_split(items: list[QAItem], split: str | None) -> list[QAItem]:
    """Items of one split (``None`` = all)."""
    if split is None:
        return list(items)
    if split not in SPLITS:
        raise UserError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    return [item for item in items if item.split == split]


def train_items(items: list[QAItem]) -> list[QAItem]:
    """The items training may use. Refuses any test-split row instead of silently dropping it.

    Callers pass ``select_split(items, "train")``; passing the full file is a bug that would
    leak test answers into the adapter, so it raises.
    """
    leaked = [item.question for item in items if item.split != "train"]
    if leaked:
        raise UserError(f"{len(leaked)} dev- or test-split question(s) were passed for training "
                        f"(first: {leaked[0][:80]!r}); only the train split may be used")
    if not items:
        raise UserError("the QA file has no train-split questions to train on")
    return list(items)
