"""Validated configuration for chunking and retrieval, plus the knowledge-base name check.

Each dataclass validates in ``__post_init__`` and raises :class:`UserError` naming the bad
value, so the page, the CLI and the benchmark share one set of limits. Nothing here loads a
model or touches the database.

Example:
    >>> ChunkingConfig(chunk_size=600, chunk_overlap=100).chunk_size
    600
    >>> check_kb_name("../etc")
    Traceback (most recent call last):
    ...
    core.errors.UserError: knowledge base name '../etc' is not allowed; ...

The name rule itself is the one every store shares (:mod:`core.names`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import UserError
from core.names import check_name

SEARCH_MODES = ("vector", "fts", "hybrid")
#: Longest question accepted (characters); a 50,000-character paste is refused, not truncated.
MAX_QUESTION_CHARS = 2_000
DEFAULT_KB = "default"


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are cut into chunks (sizes in characters)."""

    chunk_size: int = field(default=700, metadata={"help": "Target chunk length (chars)."})
    chunk_overlap: int = field(
        default=120, metadata={"help": "Trailing sentences repeated in the next chunk (chars)."})
    min_chunk_chars: int = field(
        default=20, metadata={"help": "Shorter pieces are merged into a neighbour."})

    def __post_init__(self) -> None:
        if not 100 <= self.chunk_size <= 8_000:
            raise UserError(f"chunk_size must be 100..8000 characters, got {self.chunk_size}")
        if not 0 <= self.chunk_overlap <= self.chunk_size // 2:
            raise UserError(f"chunk_overlap must be 0..chunk_size/2 ({self.chunk_size // 2}), "
                            f"got {self.chunk_overlap}")
        if not 1 <= self.min_chunk_chars < self.chunk_size:
            raise UserError(f"min_chunk_chars must be 1..chunk_size-1, got {self.min_chunk_chars}")


@dataclass(frozen=True)
class RetrievalConfig:
    """How chunks are found for a question."""

    top_k: int = field(default=3, metadata={"help": "Chunks returned."})
    search: str = field(default="hybrid", metadata={"help": "vector | fts | hybrid (RRF)."})
    rrf_k: int = field(default=60, metadata={"help": "RRF constant k in 1/(k + rank)."})
    ann_min_rows: int = field(
        default=50_000, metadata={"help": "Build an ANN index at this many rows; exact below."})
    nprobes: int = field(default=8, metadata={"help": "IVF partitions probed per ANN query."})
    refine_factor: int = field(
        default=10, metadata={"help": "Re-rank top_k*refine_factor ANN hits with exact distances."})

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= 50:
            raise UserError(f"top_k must be 1..50, got {self.top_k}")
        if self.search not in SEARCH_MODES:
            raise UserError(f"search must be one of {'|'.join(SEARCH_MODES)}, got {self.search!r}")
        if not 1 <= self.rrf_k <= 1_000:
            raise UserError(f"rrf_k must be 1..1000, got {self.rrf_k}")
        if self.ann_min_rows < 1_000:
            raise UserError(f"ann_min_rows must be >= 1000 (IVF training needs rows), "
                            f"got {self.ann_min_rows}")
        if not 1 <= self.nprobes <= 1_000:
            raise UserError(f"nprobes must be 1..1000, got {self.nprobes}")
        if not 1 <= self.refine_factor <= 100:
            raise UserError(f"refine_factor must be 1..100, got {self.refine_factor}")


def check_kb_name(name: str) -> str:
    """:func:`core.names.check_name` for a knowledge base (the name is a LanceDB table)."""
    return check_name(name, "knowledge base")


def check_question(question: str) -> str:
    """Strip and validate a question: non-empty and at most MAX_QUESTION_CHARS characters."""
    text = (question or "").strip()
    if not text:
        raise UserError("the question is empty: type a question")
    if len(text) > MAX_QUESTION_CHARS:
        raise UserError(f"the question has {len(text):,} characters; the limit is "
                        f"{MAX_QUESTION_CHARS:,}: shorten it")
    return text
