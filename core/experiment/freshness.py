"""Freshness: change one fact in a copy of a document, re-index, ask again.

What a knowledge base buys over an adapter is that an edit is live in seconds. This module
measures it on the experiment's own questions: it picks one question whose answer is a number,
year, time or amount (:func:`pick_question`), writes a new value for it (:func:`new_value`),
edits exactly that one value in a copy of the source document (:func:`edit_document`), builds
a copy of the knowledge base with the edited document (``<kb>-fresh``), times the re-index of
that one document, and asks the question again in every mode with and without retrieval. Each
answer is scored against the new value and the old one: RAG should give the new value; the
adapter, trained on the old text, keeps the old one until it is retrained (the retrain time
reported is the experiment's own measured training time: a retrain on the edited base takes
the same budget). The copy is deleted afterwards. Left out: retraining itself.

Example:
    >>> new_value("1994", "year")
    '1997'
    >>> edit_document("Opened in 1994. Closed in 2001.", "Opened in 1994.", "1994", "1997")
    'Opened in 1997. Closed in 2001.'
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence

from core.errors import UserError
from core.evaluation import metrics
from core.evaluation.runner import evaluate_batch
from core.qa import QAItem
from core.rag.ingest import Document
from core.rag.store import KnowledgeStore

#: Value types a freshness edit can change without touching any other word.
EDITABLE = ("year", "number", "money", "time", "percent", "date")
ASKED_MODES = ("base", "extractive", "rag", "finetuned", "finetuned+rag")
_DIGITS = re.compile(r"\d+")


def candidates(items: Sequence[QAItem]) -> list[QAItem]:
    """The questions whose answer type can be edited, years first (the clearest edit)."""
    return [item for kind in EDITABLE for item in items
            if item.extra.get("type") == kind and item.extra.get("sentence")]


def pick_question(items: Sequence[QAItem]) -> QAItem | None:
    """The first of :func:`candidates`, or None."""
    found = candidates(items)
    return found[0] if found else None


def new_value(old: str, kind: str) -> str:
    """A different value of the same type and shape: the last digit group moved by a fixed step.

    Example: ``new_value("£380,000", "money") -> '£380,003'``; ``new_value("06:40", "time") ->
    '06:43'``; ``new_value("3 April 1994", "date") -> '3 April 1997'``.
    """
    groups = list(_DIGITS.finditer(old))
    if not groups:
        raise UserError(f"{old!r} has no digits to change")
    last = groups[-1]
    digits = last.group(0)
    if kind == "time" and len(groups) >= 2:
        changed = f"{(int(digits) + 3) % 60:02d}"
    else:
        changed = str(int(digits) + 3).zfill(len(digits))
    return old[:last.start()] + changed + old[last.end():]


_MARKUP = r"[*_`]*"  # Markdown emphasis the question's sentence was read without


def _sentence_pattern(sentence: str) -> re.Pattern[str]:
    """``sentence`` with any whitespace between its words (a document may wrap lines) and
    Markdown emphasis around them (``**Fenby Moor** is ...``)."""
    return re.compile(r"\s+".join(_MARKUP + re.escape(w) + _MARKUP for w in sentence.split()))


def edit_document(text: str, sentence: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced by ``new`` once, inside the first occurrence of
    ``sentence``; every other character unchanged. UserError when the sentence or the value is
    not found."""
    found = _sentence_pattern(sentence).search(text)
    if found is None:
        raise UserError("the question's sentence is not in its document any more")
    inside = found.group(0)
    at = inside.find(old)
    if at < 0:
        raise UserError(f"{old!r} is not in the sentence")
    start = found.start() + at
    return text[:start] + new + text[start + len(old):]


def document_text(settings, kb: str, document: str) -> tuple[str, str]:
    """(text, format) of ``document`` put back together from its chunks' character spans."""
    store = KnowledgeStore(settings)
    table = store.db.open_table(kb)
    rows = [r for r in table.to_arrow().select(["document", "start", "end", "text", "fmt"])
            .to_pylist() if r["document"] == document]
    if not rows:
        raise UserError(f"knowledge base {kb!r} has no document {document!r}")
    size = max(r["end"] for r in rows)
    chars = [" "] * size
    for r in rows:
        chars[r["start"]:r["end"]] = list(r["text"])
    return "".join(chars), rows[0]["fmt"]


def all_documents(settings, kb: str) -> list[Document]:
    store = KnowledgeStore(settings)
    names = sorted(set(store.db.open_table(kb).to_arrow().column("document").to_pylist()))
    return [Document(n, *document_text(settings, kb, n)) for n in names]


def fresh_kb_name(kb: str) -> str:
    """The copy's name: ``<kb>-fresh`` cut to stay a valid knowledge-base name."""
    return f"{kb[:50]}-fresh"


def run_freshness(settings, ctx, embedder, items: Sequence[QAItem], *, modes: Sequence[str],
                  retrain_seconds: float | None, actor=None, question_id: str = "",
                  value: str = "") -> dict:
    """Edit one fact, re-index a copy of the base, ask again in ``modes``; see the module
    docstring. Returns {"question", "document", "sentence", "old", "new", "copy_seconds",
    "reindex_seconds", "retrain_seconds", "kb", "modes": {mode: {"answer", "says_new",
    "says_old"}}} or {"skipped": reason}. ``question_id`` picks the question (the user's
    choice: any type), ``value`` the new value (else :func:`new_value`)."""
    chosen = candidates(items)
    if question_id:
        chosen = [i for i in items if i.id == question_id]
        if not chosen:
            raise UserError(f"no question {question_id!r} to change for the freshness test")
    docs = all_documents(settings, ctx.kb)
    by_name = {d.name: d for d in docs}
    tried: list[str] = []
    for item in chosen:  # the first whose sentence is found in its document
        kind, sentence, old = item.extra.get("type", ""), item.extra.get("sentence"), item.answer
        if not sentence:
            tried.append(f"{item.id}: no source sentence recorded")
            continue
        target = by_name.get(item.source)
        if target is None:
            tried.append(f"{item.id}: {item.source!r} is not in the base")
            continue
        try:
            new = value.strip() or new_value(old, kind)
            if new == old:
                raise UserError(f"the new value equals the old one ({old!r})")
            edited = edit_document(target.text, sentence, old, new)
        except UserError as exc:
            tried.append(f"{item.id}: {exc}")
            continue
        break
    else:
        return {"skipped": "no question has a number, year, time or amount that could be "
                           "changed in its document" + (f" ({'; '.join(tried)[:300]})"
                                                        if tried else "")}
    store = ctx.store if ctx.store is not None else KnowledgeStore(settings, embedder)
    fresh = fresh_kb_name(ctx.kb)
    if store.exists(fresh):
        store.delete_kb(fresh, actor=actor)
    started = time.perf_counter()
    store.add_documents(fresh, docs)
    copy_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = store.add_documents(fresh, [Document(target.name, edited, target.fmt)])
    reindex_seconds = time.perf_counter() - started
    try:
        fresh_ctx = dataclasses.replace(ctx, kb=fresh, store=store)
        asked = QAItem(item.question, new, (), (), item.source, "test", item.id, item.extra)
        answers = {}
        for mode in modes:
            row = evaluate_batch([asked], mode, fresh_ctx, embedder)[0]
            text = row["prediction"]
            answers[mode] = {"answer": text,
                             "says_new": bool(metrics.answer_hit(text, [new]).value),
                             "says_old": bool(metrics.answer_hit(text, [old]).value)}
    finally:
        store.delete_kb(fresh, actor=actor)
    return {"question": item.question, "question_id": item.id, "document": item.source,
            "sentence": sentence, "old": old, "new": new, "kb": fresh,
            "replaced_documents": list(report.replaced),
            "copy_seconds": round(copy_seconds, 3), "reindex_seconds": round(reindex_seconds, 3),
            "retrain_seconds": None if retrain_seconds is None else round(retrain_seconds, 1),
            "modes": answers}
