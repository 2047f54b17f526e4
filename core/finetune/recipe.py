"""The knowledge-injection recipe: every fact of the documents in several wordings and uses.

What the literature says a small model needs to *answer* from fine-tuned facts, and what this
module builds from a knowledge base's chunks (no model call, deterministic):

1. **The documents themselves** (Ovadia et al., EMNLP 2024: unsupervised fine-tuning on the
   texts), one example per chunk.
2. **Several wordings of each chunk** (Allen-Zhu & Li, "Physics of Language Models 3.1": a
   fact seen in one wording is memorised but not extractable; rewordings and sentence
   shuffling make it answerable): :func:`core.finetune.paraphrase.template_paraphrases`
   (sentences reordered, restated, listed), ``wordings`` per chunk.
3. **Questions and answers derived from sentences** (Jiang et al. 2024, "instruction-tuned
   pre-training": QA about facts next to the documents raised QA accuracy 30 -> 48 %): every
   sentence's key spans (numbers with their unit, multi-word names, codes, years) become
   cloze questions asked the way the fine-tuned mode asks (the same prompt builder), answered
   with the span; half of them are also asked *with their passage as context* (the sentence
   and its neighbours) in the RAG prompt (as in RAFT, Zhang et al. 2024), so the adapter keeps
   reading its context in fine-tuned + RAG mode. A "what does <document> say about <name>"
   question answered with the whole sentence adds the reverse direction (name -> fact).
4. **QA pairs from a train split**, when the QA file has one for these documents (format
   teaching; test items are never trained on: :func:`core.qa.train_items`).
5. **The full recipe** (``Recipe.full``, the default) replaces the passage-context clozes
   with :mod:`core.finetune.contrastive`'s kinds: every cloze also as a question-shaped
   sentence ("... opened in which year?"), ``context_share`` of those also asked with the
   fact's own sentence as the RAG prompt's evidence (the rag mode shows one evidence
   sentence), look-alike contrasts (a value and the knowledge base's most similar other
   value, each with its own sentence) and EntiGraph-style entity-relation rewrites. The
   trainer may put every question before the documents in each epoch
   (``LoraSettings.order``, Jiang et al. 2024).

A share of the derived questions (``HELD_OUT_SHARE``, at least a few) is held out: the trainer
watches their loss to stop when new wordings of the facts stop improving.

Every derived text keeps every number of its source: a template moves whole sentences, a cloze
question plus its answer is the sentence with one span moved (tested for every example).

Example:
    >>> key_spans("The station opened in 2011 on Gannet Skerry, 7.3 km offshore.")
    ['2011', 'Gannet Skerry', '7.3 km']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.finetune.contrastive import Fact, contrastive_examples, relation_texts, wh_question
from core.finetune.data import SourceChunk, TrainExample, chat_prompt
from core.finetune.paraphrase import doc_title, split_sentences, template_paraphrases
from core.qa import QAItem, train_items

HELD_OUT_SHARE = 0.12
MIN_HELD_OUT, MAX_HELD_OUT = 4, 48
MAX_SPANS_PER_SENTENCE = 3
_UNIT = r"(?:\s?(?:%|per cent|percent|[a-zA-Z]{1,12}(?:\s(?:per|an|a)\s[a-zA-Z]{1,10})?))?"
_NUMBER = re.compile(r"(?:[£$€]\s?)?\d+(?:[.,:]\d+)*" + _UNIT)
_CODE = re.compile(r"\b[A-Z][A-Za-z]*[- ]?[A-Z]*\d+[A-Za-z0-9-]*\b")
_NAME = re.compile(r"\b[A-Z][\w'’-]+(?:\s(?:(?:of|de|la|the|and)\s)?[A-Z][\w'’-]+)+")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_NOT_UNITS = {"and", "or", "the", "a", "an", "in", "on", "at", "to", "of", "for", "by", "with",
              "from", "was", "were", "is", "are", "has", "have", "had", "that", "which", "when"}


def key_spans(sentence: str) -> list[str]:
    """Answer-like spans of ``sentence``, in order: numbers (with a unit word), codes, names.

    Names are two or more capitalised words; overlapping spans are joined into one.
    """
    found: list[tuple[int, int]] = []
    for match in _NUMBER.finditer(sentence):
        text = match.group(0)
        words = text.split()
        if len(words) > 1 and words[-1].lower() in _NOT_UNITS:  # "in 2011 and" -> "2011"
            end = match.start() + len(" ".join(words[:-1]))
            found.append((match.start(), end))
        else:
            found.append(match.span())
    found += [m.span() for m in _CODE.finditer(sentence)]
    found += [m.span() for m in _NAME.finditer(sentence)]
    found.sort()
    merged: list[list[int]] = []
    for start, end in found:  # overlapping spans join: "9 November" + "November 2023"
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    kept = [(s, e) for s, e in merged]
    return [sentence[s:e].strip() for s, e in kept if sentence[s:e].strip()]


@dataclass(frozen=True)
class Recipe:
    """What to build: template wordings per chunk and whether to add derived QA."""

    wordings: int = 3
    derived_qa: bool = True
    with_context: bool = True
    seed: int = 0
    full: bool = False  #: add the contrastive, relation and question-shaped kinds
    context_share: float = 0.5  #: of the question-shaped clozes, also asked with evidence


@dataclass
class KnowledgeData:
    """Training and held-out examples, and a count per kind for the metadata."""

    train: list[TrainExample] = field(default_factory=list)
    held_out: list[TrainExample] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ex in self.train:
            out[ex.kind] = out.get(ex.kind, 0) + 1
        out["held_out"] = len(self.held_out)
        return out


_LIST_LINE = re.compile(r"^\s*(?:[-*•|]|\d+[.)]\s)")


def fact_sentences(text: str) -> list[str]:
    """Sentences of ``text``; in a paragraph of list items or table rows, each line is one
    (a wrapped prose paragraph is joined first, so a sentence is never cut at a line end)."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line for line in paragraph.splitlines() if line.strip()]
        if sum(bool(_LIST_LINE.match(line)) for line in lines) >= 2:
            out += [s for line in lines for s in split_sentences(line)]
        else:
            out += split_sentences(paragraph)
    return [s for s in out if not s.isupper()]  # headings carry no fact


def cloze(sentence: str, span: str) -> str:
    """The sentence with its first ``span`` replaced by a blank."""
    return sentence.replace(span, "____", 1)


def _held_out(key: str, share: float) -> bool:
    digest = hashlib.sha256(key.encode()).digest()
    return digest[0] / 256 < share


def knowledge_examples(chunks: Sequence[SourceChunk], tokenizer, *, is_seq2seq: bool,
                       recipe: Recipe, question_prompt: Callable[[str], str],
                       context_prompt: Callable[[str, SourceChunk], str] | None = None,
                       qa_items: Sequence[QAItem] = ()) -> KnowledgeData:
    """The recipe's examples for ``chunks`` (see the module docstring)."""
    data = KnowledgeData()
    derived: list[TrainExample] = []
    facts: list[tuple[Fact, int, TrainExample]] = []  # (fact, chunk index, its cloze)

    def ask(question: str) -> str:
        return chat_prompt(tokenizer, question_prompt(question), is_seq2seq)

    def ask_with(question: str, document: str, passage: str) -> str:
        return chat_prompt(tokenizer, context_prompt(question, SourceChunk(document, passage)),
                           is_seq2seq)

    for i, chunk in enumerate(chunks):
        text = chunk.text.strip()
        if not text:
            continue
        data.train.append(TrainExample("", text, "chunk"))
        for wording in template_paraphrases(text, chunk.document, recipe.wordings,
                                            seed=recipe.seed + i):
            data.train.append(TrainExample("", wording, "template-paraphrase"))
        if not recipe.derived_qa:
            continue
        doc = doc_title(chunk.document)
        sentences = fact_sentences(text)
        for j, sentence in enumerate(sentences):
            spans = [s for s in key_spans(sentence)
                     if len(s) <= 0.6 * len(sentence)][:MAX_SPANS_PER_SENTENCE]
            for k, span in enumerate(spans):
                question = f"In {doc}: \u201c{cloze(sentence, span)}\u201d What goes in the blank?"
                example = TrainExample(ask(question), span, "cloze")
                derived.append(example)
                facts.append((Fact(doc, sentence, span), i, example))
                if recipe.full or not recipe.with_context or context_prompt is None:
                    continue
                if (j + k) % 2 == 0:
                    around = " ".join(sentences[max(0, j - 1):j + 2])  # the passage, short
                    derived.append(TrainExample(ask_with(question, chunk.document, around),
                                                span, "cloze-with-context"))
            names = [s for s in spans if not _DIGITS.search(s)]
            if names and len(spans) >= 2:
                question = f"What does {doc} say about {names[0]}?"
                derived.append(TrainExample(ask(question), sentence, "recall"))
    clozes = [ex for ex in derived if ex.kind == "cloze"]
    share = min(HELD_OUT_SHARE, MAX_HELD_OUT / max(1, len(clozes)))
    held = {id(ex) for ex in clozes if _held_out(ex.prompt, share)}
    if len(held) < MIN_HELD_OUT:
        held |= {id(ex) for ex in clozes[::max(1, len(clozes) // MIN_HELD_OUT)][:MIN_HELD_OUT]}
    if len(held) >= len(clozes):  # keep something to train on
        held = set()
    for ex in derived:
        (data.held_out if id(ex) in held else data.train).append(ex)
    if recipe.full:
        trained = [fact for fact, _i, ex in facts if id(ex) not in held]
        data.train += _full_kinds(trained, [f for f, _i, _ex in facts], ask,
                                  ask_with if recipe.with_context and context_prompt else None,
                                  {f: chunks[i].document for f, i, _ex in facts},
                                  recipe.context_share)
    documents = {c.document for c in chunks}
    ours = [q for q in qa_items if q.split == "train" and q.source in documents]
    for item in train_items(ours) if ours else ():
        data.train.append(TrainExample(ask(item.question), item.answer, "qa"))
    return data


def _full_kinds(trained: Sequence[Fact], every: Sequence[Fact], ask: Callable[[str], str],
                ask_with: Callable[[str, str, str], str] | None, document_of: dict,
                context_share: float) -> list[TrainExample]:
    """The full recipe's additions (:mod:`core.finetune.contrastive`): a question-shaped
    cloze per trained fact, ``context_share`` of them also with the fact's sentence as the
    RAG prompt's evidence (the way the rag mode shows its one evidence sentence), look-alike
    contrasts (among every fact of the knowledge base) and entity-relation rewrites."""
    out: list[TrainExample] = []
    for fact in trained:
        question = wh_question(fact.sentence, fact.span)
        out.append(TrainExample(ask(question), fact.span, "wh-question"))
        if ask_with is not None and _held_out("ctx" + question, context_share):
            out.append(TrainExample(ask_with(question, document_of[fact], fact.sentence),
                                    fact.span, "question-with-context"))
    mine = set(trained)
    out += [ex for ex in contrastive_examples(every, ask)
            if ex.kind != "contrastive" or any(ex.target == f.span for f in mine)]
    out += relation_texts(every)
    return out


def numbers_kept(source: str, example: TrainExample) -> bool:
    """Every number of ``source`` appears in the example's prompt or target."""
    have = set(_DIGITS.findall(example.prompt + " " + example.target))
    return set(_DIGITS.findall(source)) <= have
