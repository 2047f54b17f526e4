"""Answer a question in a named mode: a small registry the fine-tuning issue extends.

A mode turns (question, context) into a :class:`Prepared` answer job: the prompt, the sources
it used and the :class:`~core.generation.Generator` that must run it (a fine-tuned mode can hand
back a generator with its adapter active). ``base`` asks the model alone; ``rag`` retrieves
top-k chunks from a knowledge base first. :func:`answer` runs a job to completion,
:func:`stream_answer` yields text pieces for the page and exposes the same result dict after.
Result keys: answer, mode, model, sources [{document, chunk, score, text}], chunk_ids, seconds
(retrieval + generation wall time), retrieval_seconds, tokens, prompt_tokens, trimmed.

Example:
    >>> answer("Who planted the first orchid?", "rag", ctx)["answer"]  # doctest: +SKIP
    'Ilsa Marek'
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import UserError
from core.generation import GenerationConfig
from core.rag.config import DEFAULT_KB, RetrievalConfig, check_question
from core.rag.prompts import BuiltPrompt, build_base_prompt, build_rag_prompt

DEFAULT_GENERATION = GenerationConfig(max_new_tokens=40)


@dataclass
class AskContext:
    """Everything a mode may need; ``store`` is only touched by modes that retrieve."""

    generator: object
    store: object | None = None
    kb: str = DEFAULT_KB
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generation: GenerationConfig = DEFAULT_GENERATION


@dataclass
class Prepared:
    prompt: BuiltPrompt
    generator: object
    sources: list = field(default_factory=list)
    retrieval_seconds: float = 0.0


class AnswerMode(Protocol):
    name: str
    label: str
    uses_retrieval: bool

    def prepare(self, question: str, ctx: AskContext) -> Prepared: ...


@dataclass(frozen=True)
class BaseMode:
    name: str = "base"
    label: str = "Base"
    uses_retrieval: bool = False

    def prepare(self, question: str, ctx: AskContext) -> Prepared:
        return Prepared(build_base_prompt(question, ctx.generator), ctx.generator)


@dataclass(frozen=True)
class RagMode:
    name: str = "rag"
    label: str = "RAG"
    uses_retrieval: bool = True

    def prepare(self, question: str, ctx: AskContext) -> Prepared:
        return prepare_with_retrieval(question, ctx, ctx.generator, self.label)


def prepare_with_retrieval(question: str, ctx: AskContext, generator, label: str) -> Prepared:
    """Search the knowledge base, then build the context prompt for ``generator`` (timed)."""
    from core.rag.retrieve import search

    if ctx.store is None:
        raise UserError(f"{label} needs a knowledge base; none is configured")
    start = time.perf_counter()
    hits = search(ctx.store, ctx.kb, question, ctx.retrieval)
    seconds = time.perf_counter() - start
    built = build_rag_prompt(question, hits, generator,
                             max_new_tokens=ctx.generation.max_new_tokens)
    return Prepared(built, generator, built.used, seconds)


MODES: dict[str, AnswerMode] = {}


def register_mode(mode: AnswerMode) -> AnswerMode:
    """Add (or replace) a mode; the fine-tuning issue registers finetuned and finetuned+rag."""
    MODES[mode.name] = mode
    return mode


register_mode(BaseMode())
register_mode(RagMode())


def get_mode(name: str) -> AnswerMode:
    if name not in MODES:
        raise UserError(f"unknown mode {name!r}; available: {', '.join(MODES)}")
    return MODES[name]


def _result(mode: AnswerMode, job: Prepared, gen, total: float) -> dict:
    return {
        "answer": gen.text, "mode": mode.name,
        "model": getattr(job.generator, "model_id", "?"),
        "sources": [h.to_source() for h in job.sources],
        "chunk_ids": [h.id for h in job.sources],
        "seconds": round(total, 4), "retrieval_seconds": round(job.retrieval_seconds, 4),
        "tokens": gen.tokens, "prompt_tokens": gen.prompt_tokens, "trimmed": job.prompt.trimmed,
    }


def answer(question: str, mode: str, ctx: AskContext) -> dict:
    """Answer ``question`` in ``mode`` and return the result dict (module docstring)."""
    start = time.perf_counter()
    question = check_question(question)
    m = get_mode(mode)
    job = m.prepare(question, ctx)
    gen = job.generator.generate(job.prompt.prompt, ctx.generation, chat=job.prompt.chat)
    return _result(m, job, gen, time.perf_counter() - start)


class AnswerStream:
    """Iterate for text pieces; afterwards ``result`` holds the same dict :func:`answer` gives.

    ``sources`` is available before the first piece, so a page can show them while streaming.
    """

    def __init__(self, mode: AnswerMode, job: Prepared, ctx: AskContext, start: float):
        self.mode, self.job, self._start = mode, job, start
        self.sources = job.sources
        self._stream = job.generator.stream(job.prompt.prompt, ctx.generation,
                                            chat=job.prompt.chat)
        self.result: dict | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._stream
        self.result = _result(self.mode, self.job, self._stream.result,
                              time.perf_counter() - self._start)


def stream_answer(question: str, mode: str, ctx: AskContext) -> AnswerStream:
    start = time.perf_counter()
    question = check_question(question)
    m = get_mode(mode)
    return AnswerStream(m, m.prepare(question, ctx), ctx, start)
