"""The answering service: every answer mode in one table, one context, whole or streamed.

:data:`MODES` declares every mode and what it needs: ``base`` asks the model alone,
``extractive`` is the no-model baseline (retrieval only: the best evidence sentence and the one
after it, no language model), ``rag`` retrieves top-k chunks from a knowledge base first and lets
the model answer from them, ``finetuned`` and ``finetuned+rag`` do the same with a LoRA adapter
switched on (the :class:`~core.generation.Generator` owns and switches its adapters). A mode is
data, not code: :func:`prepare` reads its flags. The compare page, ``python -m core ask``,
evaluation, the before/after comparison and the drill all answer through here, with one
generation config (:func:`answer_generation`: short answers that stop at the first line break).
:func:`answer` runs to completion, :func:`stream_answer` yields text pieces and exposes the same
result dict after. Result keys: answer, mode, model, sources [{document, chunk, score, text}],
chunk_ids, seconds (retrieval + generation wall time), retrieval_seconds, tokens, prompt_tokens,
trimmed, evidence (the sentences a retrieving mode showed the model), generated (the model's own
text; "" for the extractive mode), extractive (the answer shown is an evidence passage, not the
model's text: always for the extractive mode; for a model mode only when the user turned the
fallback on and the model's answer was not grounded), provenance (generator, dtype, adapter,
evidence, fallback, max_new_tokens, stop, degraded: every way the answer was made, including any
silent-looking degradation such as evidence that did not fit the window).
:func:`answer_many` answers a list of questions in batches (the CLI's ``ask --questions FILE``).
Left out: metrics (core.evaluation) and prompt wording (core.rag.prompts).

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

from core.adapters import AdapterRegistry
from core.errors import UserError
from core.generation import GenerationConfig, GenerationResult
from core.generator_protocol import TextGenerator
from core.names import suggest_name
from core.rag.config import DEFAULT_KB, RetrievalConfig, check_kb_name, check_question
from core.rag.evidence import Finished, finish, focus
from core.rag.prompts import BuiltPrompt, base_prompt, prompt_budget, rag_prompt
from core.rag.retrieve import search
from core.rag.store import KnowledgeStore

BASE, EXTRACTIVE, RAG = "base", "extractive", "rag"
FINETUNED, FINETUNED_RAG = "finetuned", "finetuned+rag"
#: Every mode asks for a short answer; it ends at the first line break (after any text).
ANSWER_STOP = ("\n",)
MAX_NEW_TOKENS = 40


def answer_generation(max_new_tokens: int = MAX_NEW_TOKENS) -> GenerationConfig:
    """The one generation config every answer uses (page, ``ask``, evaluation, drill): greedy,
    at most ``max_new_tokens``, stopping at the first line break.

    Example: ``answer_generation().stop`` -> ``('\\n',)``.
    """
    return GenerationConfig(max_new_tokens=max_new_tokens, stop=ANSWER_STOP)


DEFAULT_GENERATION = answer_generation()
BATCH_SIZE = 8  # questions generated together by answer_many and evaluation
#: How a retrieving model mode reads: ``free`` generation, or ``copy``: the answer is a span of
#: the evidence the model chooses by its own likelihood (:mod:`core.copy_decoding`).
READERS = ("free", "copy")
EVIDENCE_SENTENCES = 1  # sentences of the retrieved chunks the reader sees (0: whole chunks)


@dataclass(frozen=True)
class Mode:
    """One answer mode: its name, its label on pages, and what it needs.

    ``generates`` is False for a baseline that answers without a language model (its answer
    is an evidence passage); such a mode scores no multiple choice and has no tokens.
    """

    name: str
    label: str
    retrieves: bool = False
    needs_adapter: bool = False
    generates: bool = True


#: Every answer mode, in the order pages show them. A new mode is a new row.
MODES: dict[str, Mode] = {m.name: m for m in (
    Mode(BASE, "Base"),
    Mode(EXTRACTIVE, "Retrieval only, no model", retrieves=True, generates=False),
    Mode(RAG, "RAG", retrieves=True),
    Mode(FINETUNED, "Fine-tuned", needs_adapter=True),
    Mode(FINETUNED_RAG, "Fine-tuned + RAG", retrieves=True, needs_adapter=True),
)}
ALL_MODES = tuple(MODES)
#: The modes a language model answers in (the compare page's default columns).
MODEL_MODES = tuple(m.name for m in MODES.values() if m.generates)
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
                and o.generates == m.generates and not o.needs_adapter)


@dataclass
class AskContext:
    """Everything a mode may need; ``store`` is only touched by modes that retrieve,
    ``adapter`` (looked up in ``registry``, else the generator's own) by modes that need one.

    Retrieving modes show the model the ``evidence`` sentences of the retrieved chunks most
    similar to the question (0: the whole chunks). ``extractive_fallback`` (off by default)
    shows the best one's passage (it and the next sentence) instead of a model answer that is
    not grounded in them (:mod:`core.rag.evidence`); the result keeps the model's own text in
    ``generated`` and evaluation scores that text, reporting the fallback as its own row.
    """

    generator: TextGenerator
    store: object | None = None
    kb: str = DEFAULT_KB
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    generation: GenerationConfig = DEFAULT_GENERATION
    adapter: str = ""
    registry: object | None = None
    evidence: int = EVIDENCE_SENTENCES
    extractive_fallback: bool = False
    reader: str = "free"

    def __post_init__(self) -> None:
        if self.reader not in READERS:
            raise UserError(f"reader must be one of {', '.join(READERS)}, got {self.reader!r}")

    def provenance(self, mode: Mode, adapter: str | None, degraded: Sequence[str]) -> dict:
        """How an answer in ``mode`` is made: what a run and a stored rating record."""
        gen = self.generator
        return {"generator": getattr(gen, "model_id", "") if mode.generates else None,
                "dtype": getattr(gen, "dtype", "") if mode.generates else None,
                "adapter": adapter, "evidence": self.evidence if mode.retrieves else None,
                "fallback": bool(self.extractive_fallback and mode.retrieves and mode.generates),
                "reader": self.reader if mode.retrieves and mode.generates else None,
                "max_new_tokens": self.generation.max_new_tokens if mode.generates else None,
                "stop": list(self.generation.stop) if mode.generates else None,
                "degraded": list(degraded)}


#: Said when evidence sentences were asked for but did not fit the model's window.
EVIDENCE_DID_NOT_FIT = ("the evidence sentences did not fit the model's window: the whole "
                        "chunks were shown instead")


@dataclass
class Prepared:
    """A mode's answer job: the prompt, the adapter to answer with (None: base) and sources."""

    mode: Mode
    prompt: BuiltPrompt
    adapter: str | None = None
    sources: list = field(default_factory=list)
    retrieval_seconds: float = 0.0
    evidence: object | None = None  # core.rag.evidence.Evidence the model was shown
    fallback: bool = False  # show the evidence passage when the answer is not grounded
    degraded: list[str] = field(default_factory=list)  # what did not go as configured
    copy_from: list[str] | None = None  # copy reader: the answer is a span of these texts

    @property
    def evidence_sentences(self) -> list[str]:
        return list(self.evidence.sentences) if self.evidence is not None else []

    def finish(self, question: str, text: str):
        """The answer a user sees for the model's ``text`` (:func:`core.rag.evidence.finish`);
        for the no-model mode, the evidence passage itself."""
        if not self.mode.generates:
            return Finished(self.evidence.passage if self.evidence is not None else "",
                            extractive=True)
        return finish(text, self.evidence, question) if self.fallback else Finished(text)

    def no_model_result(self) -> GenerationResult:
        """What stands in for generation in a mode without a model: its passage, 0 tokens."""
        return GenerationResult(self.finish("", "").text, 0, 0, 0.0)


def prepare(question: str, mode: str, ctx: AskContext) -> Prepared:
    """Load the adapter and retrieve (each only if the mode needs it), then build the prompt."""
    m = get_mode(mode)
    adapter = None
    if m.needs_adapter:
        if not ctx.adapter:
            raise UserError("the fine-tuned modes need an adapter: train one on the Fine-tune "
                            "page (or `python -m core finetune`) and pick it")
        adapter = suggest_name(ctx.adapter, "adapter")
        ctx.generator.load_adapter(adapter, ctx.registry)  # reloads a retrained one
    if not m.retrieves:
        return Prepared(m, base_prompt(question, ctx.generator.tokenizer,
                                       seq2seq=ctx.generator.is_seq2seq), adapter)
    if ctx.store is None:
        raise UserError(f"{m.label} needs a knowledge base; none is configured")
    start = time.perf_counter()
    hits = search(ctx.store, ctx.kb, question, ctx.retrieval)
    wanted = ctx.evidence if m.generates else max(1, ctx.evidence)  # the baseline picks one
    evidence = None
    if wanted > 0 and hits:
        evidence = focus(question, [h.text for h in hits], ctx.store.embedder, wanted)
    seconds = time.perf_counter() - start
    if not m.generates:
        return Prepared(m, BuiltPrompt("", chat=False, used=list(hits)), None, list(hits),
                        seconds, evidence)
    gen = ctx.generator
    built = rag_prompt(question, hits, gen.tokenizer,
                       prompt_budget(gen.context_window, ctx.generation.max_new_tokens),
                       seq2seq=gen.is_seq2seq, model=gen.model_id,
                       evidence=evidence.sentences if evidence is not None else None)
    degraded = [EVIDENCE_DID_NOT_FIT] if evidence is not None and not built.evidence else []
    evidence = evidence if built.evidence else None
    copy_from = None
    if ctx.reader == "copy":
        if not getattr(ctx.generator, "supports_copy", False):
            raise UserError("the copy reader needs a local model (not a model server)")
        copy_from = (list(evidence.sentences) if evidence is not None
                     else [h.text for h in built.used]) or None
    return Prepared(m, built, adapter, built.used, seconds, evidence,
                    ctx.extractive_fallback and evidence is not None, degraded, copy_from)


def _result(job: Prepared, question: str, ctx: AskContext, gen, total: float) -> dict:
    final = job.finish(question, gen.text)
    generates = job.mode.generates
    return {
        "answer": final.text, "mode": job.mode.name,
        "model": ctx.generator.label(job.adapter) if generates else "no model (retrieval only)",
        "extractive": final.extractive, "generated": gen.text if generates else "",
        "evidence": job.evidence_sentences,
        "sources": [h.to_source() for h in job.sources],
        "chunk_ids": [h.id for h in job.sources],
        "seconds": round(total, 4), "retrieval_seconds": round(job.retrieval_seconds, 4),
        "tokens": gen.tokens, "prompt_tokens": gen.prompt_tokens, "trimmed": job.prompt.trimmed,
        "provenance": ctx.provenance(job.mode, job.adapter, job.degraded),
    }


def _generate(job: Prepared, ctx: AskContext) -> GenerationResult:
    if not job.mode.generates:
        return job.no_model_result()
    extra = {"copy_from": job.copy_from} if job.copy_from else {}
    return ctx.generator.generate(job.prompt.prompt, ctx.generation, chat=job.prompt.chat,
                                  adapter=job.adapter, **extra)


def answer(question: str, mode: str, ctx: AskContext) -> dict:
    """Answer ``question`` in ``mode`` and return the result dict (module docstring)."""
    start = time.perf_counter()
    job = prepare(check_question(question), mode, ctx)
    gen = _generate(job, ctx)
    return _result(job, question, ctx, gen, time.perf_counter() - start)


def generate_jobs(jobs: Sequence[Prepared], ctx: AskContext, batch_size: int = BATCH_SIZE):
    """Generate the answers of prepared jobs of one mode, ``batch_size`` at a time (left-padded
    batches, :meth:`~core.generation.Generator.generate_batch`); results in job order."""
    if not jobs:
        return []
    first = jobs[0]
    if any(j.adapter != first.adapter or j.prompt.chat != first.prompt.chat
           or j.mode != first.mode for j in jobs):
        raise ValueError("generate_jobs takes jobs of one mode and adapter")
    if not first.mode.generates:
        return [j.no_model_result() for j in jobs]
    copying = [j for j in jobs if j.copy_from]
    free = [j for j in jobs if not j.copy_from]
    out = {}
    for group, extra in ((free, {}), (copying, {"copy_from": [j.copy_from for j in copying]})):
        if group:
            results = ctx.generator.generate_batch(
                [j.prompt.prompt for j in group], ctx.generation, chat=first.prompt.chat,
                adapter=first.adapter, batch_size=batch_size, **extra)
            out.update({id(j): r for j, r in zip(group, results, strict=True)})
    return [out[id(j)] for j in jobs]


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
            result = _result(job, q, ctx, gen, job.retrieval_seconds + gen.seconds)
            yield {**result, "batch_size": gen.batch_size}


class AnswerStream:
    """Iterate for text pieces; afterwards ``result`` holds the same dict :func:`answer` gives.

    ``sources`` is available before the first piece, so a page can show them while streaming.
    """

    def __init__(self, job: Prepared, ctx: AskContext, start: float, question: str = ""):
        self.job, self._ctx, self._start = job, ctx, start
        self._question = question
        self.sources = job.sources
        streams = job.mode.generates and not job.copy_from  # copying answers come whole
        self._stream = ctx.generator.stream(job.prompt.prompt, ctx.generation,
                                            chat=job.prompt.chat,
                                            adapter=job.adapter) if streams else None
        self.result: dict | None = None

    def __iter__(self) -> Iterator[str]:
        if self._stream is None:  # no model, or a copied span: the answer, whole
            gen = _generate(self.job, self._ctx)
            yield gen.text
        else:
            yield from self._stream
            gen = self._stream.result
        self.result = _result(self.job, self._question, self._ctx, gen,
                              time.perf_counter() - self._start)


def stream_answer(question: str, mode: str, ctx: AskContext) -> AnswerStream:
    start = time.perf_counter()
    question = check_question(question)
    return AnswerStream(prepare(question, mode, ctx), ctx, start, question)


def make_context(settings, kb: str, *, adapter: str = "", modes: Sequence[str] = ALL_MODES,
                 top_k: int = 3, search: str = "hybrid", max_new_tokens: int = MAX_NEW_TOKENS,
                 generator=None, embedder=None, store=None, evidence: int = EVIDENCE_SENTENCES,
                 extractive_fallback: bool = False, reader: str = "free") -> AskContext:
    """An answering context for ``modes``; loads the generator, and opens the store if needed.

    Pass ``store`` (a page passes its cached one; a comparison reuses one for both sides) so
    no KnowledgeStore is opened per call. Fails early, before any answering, on an unknown
    mode, a missing knowledge base or a missing adapter.
    """
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
    if generator is None and any(MODES[m].generates for m in modes):  # the baseline needs none
        from core import loaders  # imports torch: not at parse (CLI --help)

        generator = loaders.load_generator(settings)
    return AskContext(generator, store, kb, RetrievalConfig(top_k=top_k, search=search),
                      answer_generation(max_new_tokens),
                      adapter=adapter, registry=registry, evidence=evidence,
                      extractive_fallback=extractive_fallback, reader=reader)


def open_store(settings, embedder=None):
    """A KnowledgeStore for a process without Streamlit's cache (CLI, bench): open it once."""
    if embedder is None:
        from core import loaders  # imports torch

        embedder = loaders.load_embedder(settings)
    return KnowledgeStore(settings, embedder)
