"""CLI for RAG: ``index``, ``ask``, ``kbs``, ``kb-show``, ``kb-delete``, ``kb-delete-doc``.

``index --docs DIR --kb NAME`` prints {"kb", "documents", "chunks", "seconds"};
``ask QUESTION --kb NAME --mode MODE [--adapter NAME] [--top-k K] [--search ...]`` (modes:
:data:`core.answering.MODES`) prints
{"answer", "mode", "sources": [{"document", "chunk", "score", "text"}], "seconds", "extractive",
"generated", "provenance"}.
``ask --questions FILE.jsonl`` (QA format, :mod:`core.qa`) prints one such object per line,
with the question's "id" and "question" first, answering ``--batch-size`` questions together;
a line's "seconds" is its retrieval plus its share of its batch's generation time.
Rejected files and index messages go to stderr so stdout stays one JSON object.

Example:
    $ python -m core index --docs assets/knowledge/default --kb default
    {"kb": "default", "documents": 27, "chunks": 160, "seconds": 9.1}
"""

from __future__ import annotations

import sys

from core.answering import MAX_NEW_TOKENS, MODES, RAG
from core.qa import SPLITS
from core.rag.config import DEFAULT_KB, SEARCH_MODES


def _store(settings, *, embedder: bool = True):
    from core.rag.store import KnowledgeStore

    if not embedder:
        return KnowledgeStore(settings)
    from core.loaders import load_embedder

    return KnowledgeStore(settings, load_embedder(settings))


def _cmd_index(args, settings):
    from core.cli import stderr_progress
    from core.rag.config import ChunkingConfig, check_kb_name
    from core.rag.ingest import read_folder

    check_kb_name(args.kb)
    docs, rejected = read_folder(args.docs, text_column=args.text_column,
                                 max_bytes=settings.max_upload_mb * 1_000_000)
    for message in rejected:
        print(f"skipped: {message}", file=sys.stderr)
    chunking = ChunkingConfig(chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap)

    report = _store(settings).add_documents(args.kb, docs, chunking=chunking,
                                            progress=stderr_progress())
    for message in report.messages:
        print(message, file=sys.stderr)
    return {"kb": args.kb, "documents": len(docs), "chunks": report.total_chunks,
            "seconds": round(report.seconds, 3)}


def _cmd_ask(args, settings):
    from core.answering import answer, get_mode, make_context
    from core.errors import UserError
    from core.generation import GenerationConfig
    from core.rag.config import RetrievalConfig, check_question

    if (args.question is None) == (args.questions is None):
        raise UserError("give one question, or --questions FILE.jsonl, not both")
    if args.questions is not None:
        return _ask_many(args, settings)
    check_question(args.question)
    get_mode(args.mode)
    RetrievalConfig(top_k=args.top_k, search=args.search)  # bad values fail before any loading
    GenerationConfig(max_new_tokens=args.max_new_tokens)
    ctx = make_context(settings, args.kb, adapter=args.adapter, modes=[args.mode],
                       top_k=args.top_k, search=args.search,
                       max_new_tokens=args.max_new_tokens, evidence=args.evidence,
                       extractive_fallback=args.extractive_fallback,
                       reader=args.reader)
    r = answer(args.question, args.mode, ctx)
    return {"answer": r["answer"], "mode": r["mode"], "sources": r["sources"],
            "seconds": r["seconds"], "extractive": r["extractive"], "generated": r["generated"],
            "provenance": r["provenance"]}


def _ask_many(args, settings):
    """``ask --questions FILE``: one JSON line per question of a QA file, one model load."""
    from core.answering import answer_many, get_mode, make_context
    from core.cli import JsonLines
    from core.errors import UserError
    from core.generation import GenerationConfig
    from core.qa import load_qa_file, select_split
    from core.rag.config import RetrievalConfig

    get_mode(args.mode)
    RetrievalConfig(top_k=args.top_k, search=args.search)
    GenerationConfig(max_new_tokens=args.max_new_tokens)
    if not 1 <= args.batch_size <= 64:
        raise UserError(f"--batch-size must be 1..64, got {args.batch_size}")
    items = load_qa_file(args.questions, max_bytes=settings.max_upload_mb * 1_000_000)
    items = select_split(items, None if args.split == "all" else args.split)
    if not items:
        raise UserError(f"{args.questions} has no {args.split}-split questions")
    ctx = make_context(settings, args.kb, adapter=args.adapter, modes=[args.mode],
                       top_k=args.top_k, search=args.search,
                       max_new_tokens=args.max_new_tokens, evidence=args.evidence,
                       extractive_fallback=args.extractive_fallback,
                       reader=args.reader)
    results = answer_many([i.question for i in items], args.mode, ctx,
                          batch_size=args.batch_size)
    return JsonLines({"id": item.id, "question": item.question, "answer": r["answer"],
                      "mode": r["mode"], "sources": r["sources"], "seconds": r["seconds"],
                      "extractive": r["extractive"], "generated": r["generated"],
                      "provenance": r["provenance"]}
                     for item, r in zip(items, results, strict=True))


def _cmd_kbs(args, settings):
    store = _store(settings, embedder=False)
    return [store.summary(name) for name in store.names()]


def _cmd_kb_show(args, settings):
    store = _store(settings, embedder=False)
    return {**store.summary(args.kb), "document_list": store.documents(args.kb),
            "sample_chunks": store.sample_chunks(args.kb, limit=args.samples)}


def _cmd_kb_delete(args, settings):
    _store(settings, embedder=False).delete_kb(args.kb)
    return {"kb": args.kb, "deleted": True}


def _cmd_kb_delete_doc(args, settings):
    n = _store(settings, embedder=False).delete_document(args.kb, args.document)
    return {"kb": args.kb, "document": args.document, "chunks_removed": n}


def add_reader_options(p) -> None:
    """``--evidence N`` and ``--no-extractive-fallback`` (ask and evaluate share them)."""
    from core.answering import EVIDENCE_SENTENCES, READERS

    p.add_argument("--evidence", type=int, default=EVIDENCE_SENTENCES, metavar="N",
                   help="retrieving modes show the model the N sentences of the retrieved "
                        "chunks closest to the question (0: the whole chunks)")
    p.add_argument("--extractive-fallback", action="store_true",
                   help="show the best evidence passage instead of a model answer that is not "
                        "grounded in the evidence (off by default; evaluation still scores the "
                        "model's own text and reports the fallback as its own row)")
    p.add_argument("--no-extractive-fallback", action="store_false",
                   dest="extractive_fallback", help="the default: keep the model's answer")
    p.add_argument("--reader", choices=READERS, default="free",
                   help="free: the model writes its answer; copy: the answer is the span of the "
                        "evidence the model finds most likely (constrained decoding)")


def register(sub) -> None:
    from core.cli import add_dataclass_options
    from core.generation import GenerationConfig
    from core.rag.config import ChunkingConfig, RetrievalConfig

    p = sub.add_parser("index", help="chunk, embed and store a folder of documents in a KB")
    p.add_argument("--docs", required=True, help="folder of .txt .md .pdf .csv .jsonl files")
    p.add_argument("--kb", required=True, help="knowledge base name ([a-z0-9_-], 1-64 chars)")
    p.add_argument("--text-column", default="text", help="column used for .csv/.jsonl")
    add_dataclass_options(p, ChunkingConfig, ["chunk_size", "chunk_overlap"])
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("ask", help="answer a question, or every question of a QA file "
                                   "(base model alone or with RAG)")
    p.add_argument("question", nargs="?", help="the question (or use --questions)")
    p.add_argument("--questions", default=None, metavar="FILE.jsonl",
                   help="QA-format JSONL: answer every question in one process, one JSON "
                        "line each")
    p.add_argument("--split", choices=(*SPLITS, "all"), default="all",
                   help="with --questions: which rows to answer")
    p.add_argument("--batch-size", type=int, default=8,
                   help="with --questions: questions generated together")
    p.add_argument("--kb", default=DEFAULT_KB)
    p.add_argument("--mode", default=RAG, help=" | ".join(MODES))
    p.add_argument("--adapter", default="", help="LoRA adapter for the finetuned modes")
    add_dataclass_options(p, RetrievalConfig, ["top_k", "search"],
                          overrides={"search": {"choices": SEARCH_MODES}})
    add_dataclass_options(p, GenerationConfig, ["max_new_tokens"],
                          overrides={"max_new_tokens": {"default": MAX_NEW_TOKENS}})
    add_reader_options(p)
    p.set_defaults(func=_cmd_ask)

    p = sub.add_parser("kbs", help="list knowledge bases with document and chunk counts")
    p.set_defaults(func=_cmd_kbs)
    p = sub.add_parser("kb-show", help="documents and sample chunks of one knowledge base")
    p.add_argument("kb")
    p.add_argument("--samples", type=int, default=5)
    p.set_defaults(func=_cmd_kb_show)
    p = sub.add_parser("kb-delete", help="delete a knowledge base")
    p.add_argument("kb")
    p.set_defaults(func=_cmd_kb_delete)
    p = sub.add_parser("kb-delete-doc", help="delete one document from a knowledge base")
    p.add_argument("kb")
    p.add_argument("document")
    p.set_defaults(func=_cmd_kb_delete_doc)
