"""Cut a document's text into overlapping chunks that end on sentence boundaries.

Text is split into paragraphs (blank lines, Markdown headings) and paragraphs into sentences
(a regex splitter that knows common abbreviations; no NLTK data needed). Sentences are packed
greedily up to ``chunk_size`` characters; a chunk also closes at a paragraph end once it is
half full, so a chunk rarely straddles two topics. The next chunk starts with the previous
chunk's trailing sentences up to ``chunk_overlap`` characters. A single sentence longer than
``chunk_size`` is cut at word boundaries. Each chunk keeps its position, character span and a
content hash (SHA-256 of the whitespace-normalised text) used to skip duplicates on re-add.
It does not tokenise for any model: sizes are characters.

Example:
    >>> cfg = ChunkingConfig(chunk_size=100, chunk_overlap=30)
    >>> [c.text for c in chunk_text("One two three. Four five six. " * 4, cfg)][:1]
    ['One two three. Four five six. One two three. Four five six. One two three. Four five six.']
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from core.rag.config import ChunkingConfig

_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e",
                  "inc", "ltd", "co", "no", "fig", "approx", "dept", "est", "u.s", "jan", "feb",
                  "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
# A sentence ends at . ! ? (optionally followed by quotes/brackets) before whitespace.
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*(?=\s+)")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*#{1,6}\s)|\n(?=[ \t]*[-*] )")


@dataclass(frozen=True)
class Chunk:
    """One piece of a document: ``text == source[start:end]``."""

    position: int
    text: str
    start: int
    end: int

    @property
    def hash(self) -> str:
        return content_hash(self.text)


def content_hash(text: str) -> str:
    """SHA-256 (first 16 hex digits) of ``text`` with whitespace runs collapsed.

    Example: ``content_hash("a  b\\n") == content_hash("a b")``.
    """
    norm = " ".join(text.split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` after each match of ``pattern``; drop blank pieces."""
    out, cursor = [], start
    for m in pattern.finditer(text, start, end):
        out.append((cursor, m.end()))
        cursor = m.end()
    out.append((cursor, end))
    return [_strip(text, a, b) for a, b in out if text[a:b].strip()]


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the '.' ending at ``end`` closes an abbreviation or an initial ("J.")."""
    word = text[max(0, end - 8):end].rstrip(".\"')]").split()
    if not word:
        return False
    last = word[-1].lower().lstrip("(\"'")
    return last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text[start:end]``.

    Example: ``split_sentences("Dr. Ada Lee met us. It rained.")`` gives
    ``[(0, 19), (20, 30)]``: "Dr." does not end a sentence.
    """
    end = len(text) if end is None else end
    out, cursor = [], start
    for m in _SENTENCE_END.finditer(text, start, end):
        if text[m.start()] == "." and _is_abbreviation(text, m.start() + 1):
            continue
        nxt = text[m.end():m.end() + 3].lstrip()
        if nxt and nxt[0].islower():
            continue
        if text[cursor:m.end()].strip():
            out.append(_strip(text, cursor, m.end()))
        cursor = m.end()
    if text[cursor:end].strip():
        out.append(_strip(text, cursor, end))
    return out


def _hard_split(text: str, a: int, b: int, size: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at the last space before each ``size`` boundary."""
    out = []
    while b - a > size:
        cut = text.rfind(" ", a + 1, a + size)
        cut = cut if cut > a else a + size
        out.append(_strip(text, a, cut))
        a = cut
    out.append(_strip(text, a, b))
    return [s for s in out if s[1] > s[0]]


def _units(text: str, size: int) -> list[tuple[int, int, bool]]:
    """(start, end, ends_paragraph) for every sentence piece, in order."""
    units: list[tuple[int, int, bool]] = []
    for pa, pb in _spans(text, _PARAGRAPH_BREAK, 0, len(text)):
        sentences = [piece for sa, sb in split_sentences(text, pa, pb)
                     for piece in _hard_split(text, sa, sb, size)]
        for i, (sa, sb) in enumerate(sentences):
            units.append((sa, sb, i == len(sentences) - 1))
    return units


def chunk_text(text: str, config: ChunkingConfig | None = None) -> list[Chunk]:
    """Chunks of ``text`` (see the module docstring for the rules)."""
    cfg = config or ChunkingConfig()
    units = _units(text, cfg.chunk_size)
    groups: list[list[tuple[int, int, bool]]] = []
    current: list[tuple[int, int, bool]] = []
    fresh = 0  # units in ``current`` that are not overlap from the previous chunk
    for unit in units:
        length = unit[1] - (current[0][0] if current else unit[0])
        if current and fresh and length > cfg.chunk_size:
            groups.append(current)
            current = _overlap(current, cfg.chunk_overlap, unit, cfg.chunk_size)
            fresh = 0
        current.append(unit)
        fresh += 1
        if unit[2] and current[-1][1] - current[0][0] >= cfg.chunk_size // 2:
            groups.append(current)
            current, fresh = [], 0
    if current and fresh:
        groups.append(current)
    groups = _merge_tiny(groups, cfg.min_chunk_chars)
    return [Chunk(i, text[g[0][0]:g[-1][1]], g[0][0], g[-1][1]) for i, g in enumerate(groups)]


def _overlap(prev: list[tuple[int, int, bool]], budget: int, nxt: tuple[int, int, bool],
             size: int) -> list[tuple[int, int, bool]]:
    """Trailing units of ``prev`` totalling at most ``budget`` chars, leaving room for ``nxt``."""
    kept: list[tuple[int, int, bool]] = []
    for unit in reversed(prev):
        if prev[-1][1] - unit[0] > budget or nxt[1] - unit[0] > size:
            break
        kept.insert(0, unit)
    return kept if len(kept) < len(prev) else []


def _merge_tiny(groups: list[list[tuple[int, int, bool]]], minimum: int
                ) -> list[list[tuple[int, int, bool]]]:
    """Fold groups shorter than ``minimum`` characters into the previous group."""
    out: list[list[tuple[int, int, bool]]] = []
    for g in groups:
        if out and g[-1][1] - g[0][0] < minimum:
            out[-1] = out[-1] + [u for u in g if u[0] >= out[-1][-1][1]]
        else:
            out.append(g)
    return out
