"""From a knowledge base to a saved adapter: read chunks, build examples, train, save.

The chunks are the knowledge base's own LanceDB rows (the very texts RAG retrieves), so the
two techniques see the same knowledge. Training runs on a trainable copy of the generator
model (:func:`core.training.copy.training_copy`), never the shared generator, so answers keep
flowing while it trains; it reports through one :class:`~core.training.callbacks.TrainingHooks`.
A finished run is saved atomically with its metadata (:meth:`core.adapters.AdapterRegistry.save`).
A cancelled run saves nothing by itself: its
summary carries a :class:`PartialRun` (when at least one step finished) that the caller saves,
marked ``"partial": true`` in its metadata, or discards. Every run records its measured
training tokens/s for the next estimate (:mod:`core.finetune.throughput`).

Example:
    >>> run_finetune(settings, "default", "orbis", LoraSettings(epochs=1))  # doctest: +SKIP
    {'adapter': 'orbis', 'train_loss': 2.31, 'seconds': 140.2, ...}
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core import loaders
from core.adapters import AdapterRegistry
from core.errors import UserError
from core.finetune.config import LoraSettings
from core.finetune.data import (
    SourceChunk,
    TrainExample,
    chunk_examples,
    paraphrase_examples,
    qa_examples,
)
from core.finetune.paraphrase import generator_paraphrases
from core.finetune.recipe import Recipe, knowledge_examples
from core.finetune.throughput import record_throughput
from core.finetune.train import TrainResult, train_lora
from core.names import suggest_name
from core.qa import DEFAULT_QA_FILE, load_qa_file, select_split
from core.rag.prompts import build_base_prompt, build_rag_prompt
from core.rag.store import KnowledgeStore
from core.training.callbacks import TrainingHooks
from core.training.copy import training_copy
from core.training.trainer import save_once

Progress = Callable[[float, str], None]
PARAPHRASE_METHODS = ("templates", "generator")


def kb_chunks(settings, kb: str, documents: set[str] | None = None) -> list[SourceChunk]:
    """The chunks of knowledge base ``kb`` in document order (no embedder needed), optionally
    only those of ``documents``."""
    store = KnowledgeStore(settings)
    if not store.exists(kb):  # read directly: reading texts needs no embedder
        raise UserError(f"knowledge base {kb!r} does not exist; build it on the Knowledge page "
                        f"(existing: {', '.join(store.names()) or 'none'})")
    table = store.db.open_table(kb)
    rows = table.to_arrow().select(["document", "position", "text"]).to_pylist()
    rows.sort(key=lambda r: (r["document"], r["position"]))
    if documents is not None:
        missing = sorted(documents - {r["document"] for r in rows})
        if missing:
            raise UserError(f"knowledge base {kb!r} has no document {', '.join(missing)}")
        rows = [r for r in rows if r["document"] in documents]
    if not rows:
        raise UserError(f"knowledge base {kb!r} has no chunks"
                        + (f" from {sorted(documents)}" if documents is not None else ""))
    return [SourceChunk(r["document"], r["text"]) for r in rows]


def content_hash(chunks: list[SourceChunk]) -> str:
    """sha256 over the (document, text) pairs: same chunks, same hash, whatever their order."""
    digest = hashlib.sha256()
    for doc, text in sorted((c.document, c.text) for c in chunks):
        digest.update(doc.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


class _PromptShim:
    """Enough of a Generator for :func:`core.rag.prompts.build_base_prompt`."""

    def __init__(self, tokenizer, is_seq2seq: bool) -> None:
        self.tokenizer, self.is_seq2seq = tokenizer, is_seq2seq

    model_id = "the generator"
    context_window = 2048

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])


@dataclass
class Examples:
    """What a run trains on, what it holds out for early stopping, and a description."""

    train: list[TrainExample]
    info: dict
    held_out: list[TrainExample] = field(default_factory=list)


class _ChunkHit:
    """A chunk in the shape :func:`core.rag.prompts.build_rag_prompt` takes a search hit."""

    def __init__(self, chunk: SourceChunk) -> None:
        self.document, self.text = chunk.document, chunk.text


def build_examples(settings, lora: LoraSettings, chunks: list[SourceChunk], tokenizer,
                   is_seq2seq: bool, *, qa_file: Path | str = DEFAULT_QA_FILE,
                   paraphrase_method: str = "templates", progress: Progress | None = None,
                   cancel: threading.Event | None = None) -> Examples:
    """Examples for ``lora.data_mode`` plus a description of the data for the metadata."""
    shim = _PromptShim(tokenizer, is_seq2seq)
    if lora.data_mode == "chunks":
        return Examples(chunk_examples(chunks), {"chunks": len(chunks)})
    if lora.data_mode == "knowledge":
        def context_prompt(question: str, chunk: SourceChunk) -> str:
            return build_rag_prompt(question, [_ChunkHit(chunk)], shim,
                                    max_new_tokens=32).prompt

        data = knowledge_examples(
            chunks, tokenizer, is_seq2seq=is_seq2seq,
            recipe=Recipe(wordings=lora.paraphrases_per_chunk, seed=lora.seed,
                          full=lora.recipe == "full", context_share=lora.context_share),
            question_prompt=lambda q: build_base_prompt(q, shim).prompt,
            context_prompt=context_prompt, qa_items=_qa_rows(settings, qa_file))
        return Examples(data.train, {"chunks": len(chunks), "recipe": "knowledge",
                                     "kinds": data.counts()}, data.held_out)
    if lora.data_mode == "paraphrases":
        if paraphrase_method not in PARAPHRASE_METHODS:
            raise UserError(f"paraphrase method must be templates|generator, got "
                            f"{paraphrase_method!r}")
        info: dict[str, object] = {"chunks": len(chunks), "method": paraphrase_method}
        rewordings = None
        if paraphrase_method == "generator":
            made = generator_paraphrases(loaders.load_generator(settings),
                                         [c.text for c in chunks],
                                         lora.paraphrases_per_chunk, progress=progress,
                                         cancel=cancel)
            rewordings = made.rewordings
            info.update(generated_accepted=made.accepted, generated_rejected=made.rejected)
        examples = paraphrase_examples(chunks, lora.paraphrases_per_chunk, seed=lora.seed,
                                       rewordings=rewordings)
        return Examples(examples, info)
    items = select_split(_qa_rows(settings, qa_file), "train")
    examples = qa_examples(items, tokenizer, is_seq2seq=is_seq2seq,
                           question_prompt=lambda q: build_base_prompt(q, shim).prompt)
    return Examples(examples, {"qa_file": Path(qa_file).name, "train_questions": len(items)})


def _qa_rows(settings, qa_file: Path | str | None) -> list:
    if qa_file is None or not Path(qa_file).exists():
        return []
    return load_qa_file(qa_file, max_bytes=settings.max_upload_mb * 1_000_000)


@dataclass
class PartialRun:
    """A cancelled run's adapter, held in memory until :meth:`save` or :meth:`discard`."""

    model: object | None
    name: str
    metadata: dict
    overwrite: bool = False

    def save(self, settings) -> Path:
        """Save the adapter trained so far, marked partial; once only."""
        if self.model is None:
            raise UserError("this partial adapter was already saved or discarded")
        folder = AdapterRegistry.of(settings).save(
            self.model, self.name, {**self.metadata, "partial": True}, overwrite=self.overwrite)
        self.model = None
        return folder

    def discard(self) -> None:
        self.model = None


def _summary(name: str, result: TrainResult, seconds: float) -> dict:
    """The run's summary (``run_finetune``'s return value; ``partial`` filled in later)."""
    return {"adapter": name, "train_loss": result.final_loss, "seconds": round(seconds, 2),
            "train_seconds": round(result.seconds, 2), "steps": result.steps,
            "total_steps": result.total_steps, "examples": result.examples,
            "train_tokens": result.train_tokens,
            "tokens_per_second": round(result.tokens_per_second, 1),
            "epochs": round(result.steps / max(1, result.steps_per_epoch), 2),
            "planned_epochs": result.epochs,
            "stopped": result.stopped, "precision": result.precision,
            "held_out_losses": result.held_out_losses, "best_epoch": result.best_epoch,
            "losses": result.losses, "cancelled": result.cancelled, "saved": False,
            "partial": None}


def _metadata(settings, kb: str, documents: set[str] | None, select, select_label: str,
              chunks: list[SourceChunk], lora: LoraSettings, data_info: dict,
              result: TrainResult, summary: dict) -> dict:
    """The adapter's ``metadata.json``: where it came from, its settings and its numbers."""
    return {
        "base_model": settings.generator_model, "knowledge_base": kb,
        "documents": sorted(documents) if documents is not None else "all",
        "selection": select_label or ("custom" if select is not None else "all chunks"),
        "kb_content_hash": content_hash(chunks), "settings": lora.to_dict(),
        "target_modules": list(result.target_modules),
        "trainable_parameters": result.trainable_parameters, "data": data_info,
        "examples": result.examples, "train_tokens": result.train_tokens,
        "losses": result.losses, "train_loss": result.final_loss, "steps": result.steps,
        "total_steps": result.total_steps,
        "seconds": summary["seconds"], "train_seconds": summary["train_seconds"],
        "tokens_per_second": summary["tokens_per_second"], "source": "finetune",
        "epochs": summary["epochs"], "planned_epochs": result.epochs,
        "stopped": result.stopped, "precision": result.precision,
        "packed_rows": result.packed_rows, "held_out_losses": result.held_out_losses,
        "best_epoch": result.best_epoch,
    }


def run_finetune(settings, kb: str, adapter: str, lora: LoraSettings, *,
                 qa_file: Path | str = DEFAULT_QA_FILE, paraphrase_method: str = "templates",
                 overwrite: bool = False, documents: set[str] | None = None,
                 select: Callable[[SourceChunk], bool] | None = None, select_label: str = "",
                 hooks: TrainingHooks | None = None) -> dict:
    """Train an adapter on ``kb`` and save it as ``adapter``; returns a summary dict.

    ``documents`` restricts training to those documents' chunks and ``select`` to the chunks
    it accepts (the benchmark's quick run trains on the chunks holding its questions' answers).
    ``hooks`` gets progress, every step's loss and micro-batch, and its cancel stops the run.
    Summary keys: adapter, train_loss, seconds (whole run), train_seconds, steps, total_steps,
    examples, train_tokens, tokens_per_second, losses, cancelled, saved, partial (a
    :class:`PartialRun` when a cancelled run finished at least one step, else None).
    """
    name = suggest_name(adapter, "adapter")
    if AdapterRegistry.of(settings).path(name).exists() and not overwrite:
        raise UserError(f"an adapter named {name!r} exists: pick another name or delete it")
    started = time.perf_counter()
    hooks = hooks or TrainingHooks()
    say = hooks.say
    say(0.0, f"reading knowledge base {kb!r}")
    chunks = kb_chunks(settings, kb, documents)
    if select is not None:
        chunks = [c for c in chunks if select(c)]
        if not chunks:
            raise UserError("the chunk selection left nothing to train on")
    say(0.0, "loading a training copy of the model")
    model, tokenizer = training_copy(settings.generator_model, settings)
    is_seq2seq = bool(model.config.is_encoder_decoder)
    data = build_examples(settings, lora, chunks, tokenizer, is_seq2seq, qa_file=qa_file,
                          paraphrase_method=paraphrase_method, progress=hooks.progress,
                          cancel=hooks.cancel)
    examples, data_info = data.train, data.info
    say(0.0, f"training on {len(examples)} examples"
             + (" within a time budget" if not lora.epochs else ""))
    result = train_lora(model, tokenizer, examples, lora, is_seq2seq=is_seq2seq, hooks=hooks,
                        held_out=data.held_out)
    if result.tokens_done and result.seconds > 0:
        record_throughput(settings, result.tokens_per_second, "last run", lora,
                          result.row_tokens_per_second)
    summary = _summary(name, result, time.perf_counter() - started)
    metadata = _metadata(settings, kb, documents, select, select_label, chunks, lora, data_info,
                         result, summary)
    if result.cancelled:
        if result.steps:
            summary["partial"] = PartialRun(result.model, name, metadata, overwrite)
        say(1.0, f"cancelled after {result.steps}/{result.total_steps} steps; nothing saved "
                 "yet")
        return summary
    save_once(lambda: AdapterRegistry.of(settings).save(result.model, name, metadata,
                                                        overwrite=overwrite))  # one writer
    summary["saved"] = True
    say(1.0, f"saved adapter {name!r}")
    return summary
