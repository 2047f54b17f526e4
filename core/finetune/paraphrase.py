"""Offline paraphrases of knowledge-base chunks, produced in one of two documented ways.

1. **Templates** (default, deterministic, instant): sentence-level transformations that keep
   every fact's wording but change its surroundings and order, so the model sees each fact in
   several contexts. Variant ``i`` of a chunk is, cycling:
   - ``reorder``: the chunk's sentences in a seeded random order, introduced by its document;
   - ``restate``: each sentence wrapped in a restatement template ("According to <doc>, ...",
     "<doc> records that ...", "It is a fact that ..."), templates rotating per sentence;
   - ``bullets``: "Key facts from <doc>:" followed by the sentences as a reversed bullet list.
   They do not change words inside a sentence: they are not true paraphrases, and we say so.
2. **Generator** (optional, slow: the configured generator at ~12 tokens/s on CPU): the model
   is prompted to reword the passage keeping every name, number and date. A rewording is kept
   only if every number and multi-word name of the original still appears in it and it is at
   least a third of the original's length; otherwise a template variant takes its place
   (counted and reported).

Example:
    >>> template_paraphrases("Ada founded Orbis. It sells maps.", "history.md", 1, seed=0)[0]
    'From history: It sells maps. Ada founded Orbis.'
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LOWERABLE = {"the", "a", "an", "it", "this", "that", "these", "those", "in", "on", "at",
              "each", "every", "all", "its", "their", "our", "we", "they", "there", "when",
              "after", "before", "during", "since", "for", "from", "by", "with", "as", "if"}
RESTATEMENTS = ("According to {doc}, {s}", "{doc} records that {s}", "It is a fact that {s}",
                "As {doc} explains, {s}")
GENERATOR_PROMPT = ("Rewrite the following passage in different words. Keep every name, number "
                    "and date exactly as written. Reply with the rewritten passage only.\n\n"
                    "Passage:\n{text}")


def split_sentences(text: str) -> list[str]:
    """Sentences by end punctuation followed by a capital or digit; paragraphs split too.

    Example: ``"Hi there. It is 5 p.m. now. Yes!" -> ["Hi there.", "It is 5 p.m. now.", "Yes!"]``
    ("p.m. now" is not split: "now" is lower-case).
    """
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(line.strip(" #*-\t") for line in paragraph.splitlines()).strip()
        out.extend(s.strip() for s in _SENTENCE_END.split(flat) if s.strip())
    return out


def doc_title(document: str) -> str:
    """``"staff_handbook.md" -> "staff handbook"``."""
    return re.sub(r"[_\-]+", " ", PurePath(document).stem).strip() or "the documents"


def _lower_first(sentence: str) -> str:
    """Lower-case the first letter only when the first word is a common function word."""
    first = sentence.split(" ", 1)[0]
    return sentence[0].lower() + sentence[1:] if first.lower() in _LOWERABLE else sentence


def reorder(sentences: Sequence[str], doc: str, seed: int) -> str:
    order = list(sentences)
    rng = random.Random(seed)
    for _ in range(3):  # avoid returning the original order when another exists
        rng.shuffle(order)
        if order != list(sentences) or len(set(sentences)) < 2:
            break
    return f"From {doc}: " + " ".join(order)


def restate(sentences: Sequence[str], doc: str, seed: int) -> str:
    parts = []
    for i, s in enumerate(sentences):
        template = RESTATEMENTS[(i + seed) % len(RESTATEMENTS)]
        parts.append(template.format(doc=doc, s=_lower_first(s)))
    text = " ".join(parts)
    return text[0].upper() + text[1:]


def bullets(sentences: Sequence[str], doc: str, seed: int) -> str:
    return f"Key facts from {doc}:\n" + "\n".join(f"- {s}" for s in reversed(sentences))


TRANSFORMS: tuple[Callable[[Sequence[str], str, int], str], ...] = (reorder, restate, bullets)


def template_paraphrases(text: str, document: str, n: int, *, seed: int = 0) -> list[str]:
    """``n`` deterministic variants of ``text`` (cycling reorder, restate, bullets)."""
    sentences = split_sentences(text) or [text.strip()]
    doc = doc_title(document)
    return [TRANSFORMS[i % len(TRANSFORMS)](sentences, doc, seed + i) for i in range(n)]


_NAME = re.compile(r"\b[A-Z][\w'’-]+(?:\s(?:(?:of|de|la|the|and)\s)?[A-Z][\w'’-]+)+")


def keeps_facts(original: str, rewording: str) -> bool:
    """A rewording is acceptable if every number and every multi-word name survives and it is
    not truncated to nothing."""
    if len(rewording) < len(original) / 3:
        return False
    if not set(_NUMBER.findall(original)) <= set(_NUMBER.findall(rewording)):
        return False
    return all(name in rewording for name in _NAME.findall(original))


@dataclass
class GeneratedParaphrases:
    """Rewordings per chunk index and how many candidates were rejected."""

    rewordings: dict[int, list[str]] = field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0


def generator_paraphrases(generator, texts: Sequence[str], per_chunk: int, *,
                          progress: Callable[[float, str], None] | None = None,
                          cancel: threading.Event | None = None,
                          max_new_tokens: int = 200) -> GeneratedParaphrases:
    """Ask the generator for ``per_chunk`` sampled rewordings of each text; keep the faithful.

    Sampling (temperature 0.8) makes the rewordings differ; :func:`keeps_facts` filters them.
    """
    from core.generation import GenerationConfig

    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.8, top_p=0.95)
    result = GeneratedParaphrases()
    total = max(1, len(texts) * per_chunk)
    done = 0
    for i, text in enumerate(texts):
        for _ in range(per_chunk):
            if cancel is not None and cancel.is_set():
                return result
            answer = generator.generate(GENERATOR_PROMPT.format(text=text), config).text
            if keeps_facts(text, answer):
                result.rewordings.setdefault(i, []).append(answer)
                result.accepted += 1
            else:
                result.rejected += 1
            done += 1
            if progress is not None:
                progress(done / total, f"rewording chunk {i + 1}/{len(texts)}")
    return result
