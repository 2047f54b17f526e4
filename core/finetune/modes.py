"""The ``finetuned`` and ``finetuned+rag`` answer modes, registered in core.rag's registry.

Both answer with a LoRA adapter switched on for their model calls only (see
:func:`core.finetune.adapters.adapter_generator`); ``finetuned`` uses the base prompt (no
context), ``finetuned+rag`` the RAG prompt over retrieved chunks. The adapter comes from the
context: :class:`FinetuneAskContext` is an :class:`~core.rag.answer.AskContext` with
``adapter`` and ``settings``; a plain AskContext carrying an ``adapter`` attribute works too.
Importing this module registers the modes (:mod:`core.finetune.cli` and the pages import it).

Example:
    >>> ctx = FinetuneAskContext(gen, store, "default", adapter="orbis")  # doctest: +SKIP
    >>> answer("Who founded Orbis?", "finetuned", ctx)["model"]
    'builtin:smollm2-135m-instruct + orbis'
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UserError
from core.rag.answer import AskContext, Prepared, prepare_with_retrieval, register_mode
from core.rag.prompts import build_base_prompt

FINETUNED_MODES = ("finetuned", "finetuned+rag")
ALL_MODES = ("base", "rag", *FINETUNED_MODES)


@dataclass
class FinetuneAskContext(AskContext):
    """An AskContext that also names the adapter for the fine-tuned modes."""

    adapter: str = ""
    settings: object | None = None


def _adapter_view(ctx):
    from core.finetune.adapters import adapter_generator

    name = getattr(ctx, "adapter", "") or ""
    if not name:
        raise UserError("the fine-tuned modes need an adapter: train one on the Fine-tune page "
                        "(or `python -m core finetune`) and pick it")
    settings = getattr(ctx, "settings", None)
    if settings is None:
        from core.settings import load_settings

        settings = load_settings()
    return adapter_generator(ctx.generator, name, settings)


@dataclass(frozen=True)
class FinetunedMode:
    name: str = "finetuned"
    label: str = "Fine-tuned"
    uses_retrieval: bool = False

    def prepare(self, question: str, ctx: AskContext) -> Prepared:
        view = _adapter_view(ctx)
        return Prepared(build_base_prompt(question, view), view)


@dataclass(frozen=True)
class FinetunedRagMode:
    name: str = "finetuned+rag"
    label: str = "Fine-tuned + RAG"
    uses_retrieval: bool = True

    def prepare(self, question: str, ctx: AskContext) -> Prepared:
        return prepare_with_retrieval(question, ctx, _adapter_view(ctx), self.label)


register_mode(FinetunedMode())
register_mode(FinetunedRagMode())


def make_context(settings, kb: str, *, adapter: str = "", modes=ALL_MODES, top_k: int = 3,
                 search: str = "hybrid", max_new_tokens: int = 40, generator=None,
                 embedder=None) -> FinetuneAskContext:
    """An answering context for ``modes``: loads the generator, and the store when needed.

    Fails early (before any answering) on a missing knowledge base or adapter.
    """
    from core.generation import GenerationConfig
    from core.rag.config import RetrievalConfig, check_kb_name

    check_kb_name(kb)
    unknown = [m for m in modes if m not in ALL_MODES]
    if unknown:
        raise UserError(f"unknown mode(s) {unknown}; choose from {', '.join(ALL_MODES)}")
    if any(m in FINETUNED_MODES for m in modes):
        from core.finetune.adapters import adapter_path

        if not adapter:
            raise UserError("modes finetuned / finetuned+rag need --adapter NAME")
        if not (adapter_path(settings, adapter) / "adapter_config.json").is_file():
            raise UserError(f"no adapter named {adapter!r}: train one first (python -m core "
                            f"finetune --kb {kb} --adapter {adapter})")
    retrieval = RetrievalConfig(top_k=top_k, search=search)
    store = None
    if any(m in ("rag", "finetuned+rag") for m in modes):
        from core.rag.store import KnowledgeStore

        if embedder is None:
            from core.loaders import load_embedder

            embedder = load_embedder(settings)
        store = KnowledgeStore(settings, embedder)
        store.table(kb)
    if generator is None:
        from core.loaders import load_generator

        generator = load_generator(settings)
    return FinetuneAskContext(generator, store, kb, retrieval,
                              GenerationConfig(max_new_tokens=max_new_tokens),
                              adapter=adapter, settings=settings)
