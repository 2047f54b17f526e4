"""What one experiment runs (:class:`ExperimentConfig`), validated; light to import (the CLI
builds its options from it at ``--help``).

Example:
    >>> ExperimentConfig(kb="default").minutes
    6.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import UserError
from core.names import suggest_name
from core.rag.config import check_kb_name

SEARCHES = ("hybrid", "vector", "fts")


@dataclass(frozen=True)
class ExperimentConfig:
    """What one experiment runs. Validation names the bad value (UserError)."""

    kb: str = field(metadata={"help": "Knowledge base whose documents are asked about."})
    minutes: float = field(default=6.0, metadata={
        "help": "Fine-tuning time budget in minutes (0.25..600)."})
    max_questions: int = field(default=24, metadata={
        "help": "Questions derived from the documents (at most)."})
    adapter: str = field(default="", metadata={
        "help": "Adapter name: an existing one is reused (no training); empty = a new "
                "'exp-<kb>-<time>'."})
    top_k: int = field(default=3, metadata={"help": "Chunks retrieved per question."})
    search: str = field(default="hybrid", metadata={"help": "hybrid, vector or fts."})
    freshness: bool = field(default=True, metadata={
        "help": "Change one fact in a copy of the base and ask again."})
    batch_size: int = field(default=8, metadata={"help": "Questions generated together."})
    fresh_question: str = field(default="", metadata={
        "help": "Freshness: the id of the question whose fact is changed (default: the first "
                "with a year, number, amount or time)."})
    fresh_value: str = field(default="", metadata={
        "help": "Freshness: the new value written into the document (default: the old one "
                "with its last digits moved by 3)."})

    def __post_init__(self) -> None:
        check_kb_name(self.kb)
        if not 0.25 <= self.minutes <= 600:
            raise UserError(f"minutes must be 0.25..600, got {self.minutes}")
        if not 1 <= self.max_questions <= 500:
            raise UserError(f"max_questions must be 1..500, got {self.max_questions}")
        if not 1 <= self.top_k <= 20:
            raise UserError(f"top_k must be 1..20, got {self.top_k}")
        if self.search not in SEARCHES:
            raise UserError(f"search must be hybrid, vector or fts, got {self.search!r}")
        if not 1 <= self.batch_size <= 64:
            raise UserError(f"batch_size must be 1..64, got {self.batch_size}")
        if self.adapter:
            suggest_name(self.adapter, "adapter")
        if len(self.fresh_value) > 200 or "\n" in self.fresh_value:
            raise UserError("the new freshness value must be one line of at most 200 "
                            "characters")


