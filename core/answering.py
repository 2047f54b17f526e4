"""The answering service: the four answer modes in one table, one context, whole or streamed.

:data:`MODES` declares every mode and what it needs: ``base`` asks the model alone, ``rag``
retrieves top-k chunks from a knowledge base first, ``finetuned`` and ``finetuned+rag`` do the
same with a LoRA adapter switched on (the :class:`~core.generation.Generator` owns and switches
its adapters). A mode is data, not code: :func:`prepare` reads its two flags. The compare page,
``python -m core ask``, evaluation and the before/after comparison all answer through here.
:func:`answer` runs to completion, :func:`stream_answer` yields text pieces and exposes the same
result dict after. Result keys: answer, mode, model, sources [{document, chunk, score, text}],
chunk_ids, seconds (retrieval + generation wall time), retrieval_seconds, tokens, prompt_tokens,
trimmed, evidence (the sentences a retrieving mode showed the model), extractive (the answer is
the best evidence sentence and the one after it, because the model's own answer, kept in
generated, was not grounded in the evidence).
:func:`answer_many` answers a list of questions in batches (the CLI's ``ask --questions FILE``).
Answers are short: generation stops at the first line break. Left out: metrics (core.evaluation)
and prompt wording (core.rag.prompts).

Example:
    >>> MODES["finetuned+rag"].retrieves, MODES["finetuned+rag"].needs_adapter
    (True, True)
    >>> ctx = make_context(settings, "default", adapter="orbis")  # doctest: +SKIP
    >>> answer("Who founded Orbis?", FINETUNED, ctx)["model"]  # doctest: +SKIP
    'builtin:smollm2-135m-instruct + orbis'
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from core.errors import UserError
from core.generation import GenerationConfig
from core.rag.config import DEFAULT_KB, RetrievalConfig, check_question
from core.rag.prompts import BuiltPrompt, build_base_prompt, build_rag_prompt

BASE, RAG, FINETUNED, FINETUNED_RAG = "base", "rag", "finetuned", "finetuned+rag"
#: Every mode asks for a short answer; it ends at the first line break (after any text).
ANSWER_STOP = ("\n",)
DEFAULT_GENERATION = GenerationConfig(max_new_tokens=40, stop=ANSWER_STOP)
BATCH_SIZE = 8  # questions generated together by answer_many and evaluation
EVIDENCE_SENTENCES = 1  # sentences of the retrieved chunks the reader sees (0: whole chunks)


@dataclass(frozen=True)
class Mode:
    """One answer mode: its name, its label on pages, and what it needs."""

    name: str
    label: str
    retrieves: bool = False
    needs_adapter: bool = False


#: Every answer mode, in the order pages show them. A new mode is a new row.
MODES: dict[str, Mode] = {m.name: m for m in (
    Mode(BASE, "Base"),
    Mode(RAG, "RAG", retrieves=True),
    Mode(FINETUNED, "Fine-tuned", needs_adapter=True),
    Mode(FINETUNED_RAG, "Fine-tuned + RAG", retrieves=True, needs_adapter=True),
)}
ALL_MODES = tuple(MODES)
ADAPTER_MODES = tuple(m.name for m in MODES.values() if m.needs_adapter)


def get_mode(name: str) -> Mode:
    if name not in MODES:
        raise UserError(f"unknown mode {name!r}; available: {', '.join(MODES)}")
    return MODES[name]


def without_adapter(mode: str) -> str:
    """The mode that answers the same way without the adapter.

    Example: ``"finetuned+rag" -> "rag"``, ``"finetuned" -> "base"``, ``"rag" -> "rag"``.
    """
    m = get_mode(mode)
    return next(o.name for o in MODES.values() if o.retrieves == m.retrieves
                and not o.needs_adapter)


@dataclass
class AskContext:
    """Everything a mode may need; ``store`` is only touched by modes that retrieve,
    ``adapter`` (looked up in ``registry``, else the generator's own) by modes that need one.

    Retrieving modes show the model the ``evidence`` sentences of the retrieved chunks most
    similar to the question (0: the whole chunks) and, with ``extractive_fallback``, answer
    with the best one's passage (it and the next sentence) when the model's answer is not
    grounded in them (:mod:`core.rag.evidence`).
    """

    generator: object
    store: object | None = None
    kb: str = DEFAULT_KB
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generation: GenerationConfig = DEFAULT_GENERATION
    adapter: str = ""
    registry: object | None = None
    evidence: int = EVIDENCE_SENTENCES
    extractive_fallback: bool = True


@dataclass
class Prepared:
    """A mode's answer job: the prompt, the adapter to answer with (None: base) and sources."""

    mode: Mode
    prompt: BuiltPrompt
    adapter: str | None = None
    sources: list = field(default_factory=list)
    retrieval_seconds: float = 0.0
    evidence: object | None = None  # core.rag.evidence.Evidence the model was shown
    fallback: bool = False  # answer with the evidence passage when the answer is not grounded

    @property
    def evidence_sentences(self) -> list[str]:
        return list(self.evidence.sentences) if self.evidence is not None else []

    def finish(self, question: str, text: str):
        """The answer a user sees for the model's ``text`` (:func:`core.rag.evidence.finish`)."""
        from core.rag.evidence import Finished, finish

        return finish(text, self.evidence, question) if self.fallback else Finished(text)


def prepare(question: str, mode: str, ctx: AskContext) -> Prepared:
    """Load the adapter and retrieve (each only if the mode needs it), then build the prompt."""
    m = get_mode(mode)
    adapter = None
    if m.needs_adapter:
        if not ctx.adapter:
            raise UserError("the fine-tuned modes need an adapter: train one on the Fine-tune "
                            "page (or `python -m core finetune`) and pick it")
        from core.names import suggest_name

        adapter = suggest_name(ctx.adapter, "adapter")
        ctx.generator.load_adapter(adapter, ctx.registry)  # reloads a retrained one
    if not m.retrieves:
        return Prepared(m, build_base_prompt(question, ctx.generator), adapter)
    from core.rag.retrieve import search

    if ctx.store is None:
        raise UserError(f"{m.label} needs a knowledge base; none is configured")
    start = time.perf_counter()
    hits = search(ctx.store, ctx.kb, question, ctx.retrieval)
    evidence = None
    if ctx.evidence > 0 and hits:
        from core.rag.evidence import focus

        evidence = focus(question, [h.text for h in hits], ctx.store.embedder, ctx.evidence)
    seconds = time.perf_counter() - start
    built = build_rag_prompt(question, hits, ctx.generator,
                             max_new_tokens=ctx.generation.max_new_tokens,
                             evidence=evidence.sentences if evidence is not None else None)
    evidence = evidence if built.evidence else None
    return Prepared(m, built, adapter, built.used, seconds, evidence,
                    ctx.extractive_fallback and evidence is not None)


def _result(job: Prepared, question: str, generator, gen, total: float) -> dict:
    final = job.finish(question, gen.text)
    return {
        "answer": final.text, "mode": job.mode.name, "model": generator.label(job.adapter),
        "extractive": final.extractive, "generated": gen.text,
        "evidence": job.evidence_sentences,
        "sources": [h.to_source() for h in job.sources],
        "chunk_ids": [h.id for h in job.sources],
        "seconds": round(total, 4), "retrieval_seconds": round(job.retrieval_seconds, 4),
        "tokens": gen.tokens, "prompt_tokens": gen.prompt_tokens, "trimmed": job.prompt.trimmed,
    }


def answer(question: str, mode: str, ctx: AskContext) -> dict:
    """Answer ``question`` in ``mode`` and return the result dict (module docstring)."""
    start = time.perf_counter()
    job = prepare(check_question(question), mode, ctx)
    gen = ctx.generator.generate(job.prompt.prompt, ctx.generation, chat=job.prompt.chat,
                                 adapter=job.adapter)
    return _result(job, question, ctx.generator, gen, time.perf_counter() - start)


def generate_jobs(jobs: Sequence[Prepared], ctx: AskContext, batch_size: int = BATCH_SIZE):
    """Generate the answers of prepared jobs of one mode, ``batch_size`` at a time (left-padded
    batches, :meth:`~core.generation.Generator.generate_batch`); results in job order."""
    if not jobs:
        return []
    first = jobs[0]
    if any(j.adapter != first.adapter or j.prompt.chat != first.prompt.chat for j in jobs):
        raise ValueError("generate_jobs takes jobs of one mode and adapter")
    return ctx.generator.generate_batch([j.prompt.prompt for j in jobs], ctx.generation,
                                        chat=first.prompt.chat, adapter=first.adapter,
                                        batch_size=batch_size)


def answer_many(questions: Sequence[str], mode: str, ctx: AskContext, *,
                batch_size: int = BATCH_SIZE) -> Iterator[dict]:
    """Answer every question in ``mode``, yielding result dicts in order, ``batch_size`` at a
    time (each batch is retrieved, then generated together).

    A result's ``seconds`` is its own retrieval time plus its share of its batch's generation
    time (the batch's wall time / its size); ``batch_size`` says how many shared it.
    Example: ``[r["answer"] for r in answer_many(["Q1?", "Q2?"], "rag", ctx)]``.
    """
    for first in range(0, len(questions), batch_size):
        chunk = [check_question(q) for q in questions[first:first + batch_size]]
        jobs = [prepare(q, mode, ctx) for q in chunk]
        for q, job, gen in zip(chunk, jobs, generate_jobs(jobs, ctx, batch_size), strict=True):
            result = _result(job, q, ctx.generator, gen, job.retrieval_seconds + gen.seconds)
            yield {**result, "batch_size": gen.batch_size}


class AnswerStream:
    """Iterate for text pieces; afterwards ``result`` holds the same dict :func:`answer` gives.

    ``sources`` is available before the first piece, so a page can show them while streaming.
    """

    def __init__(self, job: Prepared, ctx: AskContext, start: float, question: str = ""):
        self.job, self._generator, self._start = job, ctx.generator, start
        self._question = question
        self.sources = job.sources
        self._stream = ctx.generator.stream(job.prompt.prompt, ctx.generation,
                                            chat=job.prompt.chat,
                                            adapter=job.adapter)
        self.result: dict | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._stream
        self.result = _result(self.job, self._question, self._generator, self._stream.result,
                              time.perf_counter() - self._start)


def stream_answer(question: str, mode: str, ctx: AskContext) -> AnswerStream:
    start = time.perf_counter()
    question = check_question(question)
    return AnswerStream(prepare(question, mode, ctx), ctx, start, question)


def make_context(settings, kb: str, *, adapter: str = "", modes: Sequence[str] = ALL_MODES,
                 top_k: int = 3, search: str = "hybrid", max_new_tokens: int = 40,
                 generator=None, embedder=None, store=None, evidence: int = EVIDENCE_SENTENCES,
                 extractive_fallback: bool = True) -> AskContext:
    """An answering context for ``modes``; loads the generator, and opens the store if needed.

    Pass ``store`` (a page passes its cached one; a comparison reuses one for both sides) so
    no KnowledgeStore is opened per call. Fails early, before any answering, on an unknown
    mode, a missing knowledge base or a missing adapter.
    """
    from core.adapters import AdapterRegistry
    from core.rag.config import check_kb_name

    check_kb_name(kb)
    if not 0 <= evidence <= 20:
        raise UserError(f"evidence must be 0..20 sentences, got {evidence}")
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise UserError(f"unknown mode(s) {unknown}; choose from {', '.join(MODES)}")
    registry = AdapterRegistry.of(settings)
    if any(MODES[m].needs_adapter for m in modes):
        if not adapter:
            raise UserError(f"modes {' / '.join(ADAPTER_MODES)} need --adapter NAME")
        if not registry.exists(adapter) and not settings.generator_url:  # server: its LoRA
            raise UserError(f"no adapter named {adapter!r}: train one first (python -m core "
                            f"finetune --kb {kb} --adapter {adapter})")
    if any(MODES[m].retrieves for m in modes):
        if store is None:
            store = open_store(settings, embedder)
        store.table(kb)  # a missing base fails here, before the generator loads
    if generator is None:
        from core.loaders import load_generator

        generator = load_generator(settings)
    return AskContext(generator, store, kb, RetrievalConfig(top_k=top_k, search=search),
                      GenerationConfig(max_new_tokens=max_new_tokens, stop=ANSWER_STOP),
                      adapter=adapter, registry=registry, evidence=evidence,
                      extractive_fallback=extractive_fallback)


def open_store(settings, embedder=None):
    """A KnowledgeStore for a process without Streamlit's cache (CLI, bench): open it once."""
    from core.rag.store import KnowledgeStore

    if embedder is None:
        from core.loaders import load_embedder

        embedder = load_embedder(settings)
    return KnowledgeStore(settings, embedder)
