"""Prompts that put retrieved chunks before the question, trimmed to the model's window.

Causal chat models (SmolLM2) get a short fixed instruction, one worked example (an invented
passage, question and a few-word answer copied from it), then "Text:" with the passages
(blank-line separated, without labels, the *best-ranked last* so it sits next to the question;
or just the evidence sentences picked from them, :mod:`core.rag.evidence`), the question and
"Answer:"; answers stop at the first line break
(:data:`core.answering.ANSWER_STOP`). The chat template is applied later by
:class:`core.generation.Generator`. Seq2seq
models (Flan-T5) get the same content in the flat "Read this and answer the question" form
they were instruction-tuned on, without a chat template. Token budget:
``context_window - max_new_tokens - TEMPLATE_MARGIN`` tokens for the whole prompt; chunks are
added in rank order while they fit, the first one that does not fit is cut at a token boundary
(when at least MIN_PARTIAL_TOKENS remain) and the rest are dropped. The prompt never hides
which chunks were used: :class:`BuiltPrompt` lists them. No generator is needed: the budget is
a number of tokens (:func:`prompt_budget`) and a tokenizer counts and cuts.

Example:
    >>> rag_prompt("Who planted it?", hits, tok, prompt_budget(2048, 32)).prompt  # doctest: +SKIP
    'Answer the question ...Text: ...Ilsa Marek planted ...\\nQuestion: Who planted it?\\nAnswer:'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.errors import UserError

#: Tokens the chat template adds around the user message (SmolLM2's adds ~20); kept spare.
TEMPLATE_MARGIN = 48
MIN_PARTIAL_TOKENS = 24

RAG_INSTRUCTION = "Answer the question with a few words copied from the text."
#: One worked example (an invented passage no model knows) showing the answer's shape.
WORKED_EXAMPLE = ("Text: The Lorrin Bridge was opened in 1902 by the engineer Mara Vell. It is "
                  "210 metres long and crosses the river Tane.\n"
                  "Question: Who opened the Lorrin Bridge?\nAnswer: Mara Vell")
BASE_INSTRUCTION = "Answer the question with a short answer (a few words)."
SEQ2SEQ_RAG = "Read the text and answer the question in a few words.\n\n{context}\n\nQuestion: {q}"
SEQ2SEQ_BASE = "Answer the question in a few words.\n\nQuestion: {q}"


@dataclass
class BuiltPrompt:
    prompt: str
    chat: bool
    used: list = field(default_factory=list)  # hits actually in the prompt, in order
    trimmed: bool = False  # a chunk was cut or dropped to fit
    prompt_tokens: int = 0
    evidence: bool = False  # the text is the evidence sentences, not the whole chunks


def _context_block(texts: list[tuple[str, str]], *, best_last: bool = False) -> str:
    """Passages separated by blank lines, in rank order (reversed with ``best_last``); no
    labels (small models copy them)."""
    return "\n\n".join(text for _doc, text in (texts[::-1] if best_last else texts))


def _render(question: str, texts: list[tuple[str, str]], seq2seq: bool) -> str:
    if seq2seq:
        return SEQ2SEQ_RAG.format(context=_context_block(texts), q=question)
    context = _context_block(texts, best_last=True)
    return (f"{RAG_INSTRUCTION}\n\n{WORKED_EXAMPLE}\n\n"
            f"Text: {context}\nQuestion: {question}\nAnswer:")


def prompt_budget(context_window: int, max_new_tokens: int) -> int:
    """Tokens a whole prompt may take: the window less the answer and :data:`TEMPLATE_MARGIN`.

    Example: a 256-token window, 32-token answers -> ``256 - 32 - 48 = 176``.
    """
    return context_window - max_new_tokens - TEMPLATE_MARGIN


def count_tokens(tokenizer, text: str) -> int:
    """Tokens of ``text`` alone (no special tokens), as the generators count them."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def base_prompt(question: str, tokenizer, *, seq2seq: bool = False) -> BuiltPrompt:
    """The no-context prompt used by the base (and fine-tuned) modes; ``tokenizer`` counts."""
    if seq2seq:
        prompt = SEQ2SEQ_BASE.format(q=question)
    else:
        prompt = f"{BASE_INSTRUCTION}\n\nQuestion: {question}\nAnswer:"
    return BuiltPrompt(prompt, chat=not seq2seq, prompt_tokens=count_tokens(tokenizer, prompt))


def _cut(tokenizer, text: str, tokens: int) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:tokens]
    return tokenizer.decode(ids, skip_special_tokens=True).rstrip() + " …"


def rag_prompt(question: str, hits: list, tokenizer, budget: int, *, seq2seq: bool = False,
               evidence: list[str] | None = None, model: str = "the model") -> BuiltPrompt:
    """Context-then-question prompt with as many of ``hits`` as fit in ``budget`` tokens
    (:func:`prompt_budget`; counted and cut with ``tokenizer``; see module doc).

    With ``evidence`` (sentences picked from ``hits``, best last: :mod:`core.rag.evidence`)
    the text is those sentences, one passage, and every hit is listed as used; when they do
    not fit the budget the whole-chunk prompt is built instead. ``model`` names the model in
    the error a too-long question raises.
    """
    def count(text: str) -> int:
        return count_tokens(tokenizer, text)

    if evidence:
        passage = [("evidence", " ".join(evidence))]
        prompt = _render(question, passage, seq2seq)
        tokens = count(prompt)
        if tokens <= budget:
            return BuiltPrompt(prompt, chat=not seq2seq, used=list(hits), prompt_tokens=tokens,
                               evidence=True)
    used: list = []
    texts: list[tuple[str, str]] = []
    trimmed = False
    base_tokens = count(_render(question, [], seq2seq))
    if base_tokens > budget:
        raise UserError(f"the question alone needs {base_tokens} tokens; {model} "
                        f"has room for {budget} after the answer: shorten it")
    for hit in hits:
        candidate = [*texts, (hit.document, hit.text)]
        need = count(_render(question, candidate, seq2seq))
        if need <= budget:
            texts, used = candidate, [*used, hit]
            continue
        trimmed = True
        room = budget - count(_render(question, [*texts, (hit.document, "")], seq2seq))
        if room >= MIN_PARTIAL_TOKENS:
            texts.append((hit.document, _cut(tokenizer, hit.text, room - 2)))
            used.append(hit)
        break
    prompt = _render(question, texts, seq2seq)
    tokens = count(prompt)
    while tokens > budget and texts:  # re-tokenising at the cut can add a token or two
        doc, text = texts.pop()
        keep = count(text) - (tokens - budget) - 4
        if keep >= MIN_PARTIAL_TOKENS:
            texts.append((doc, _cut(tokenizer, text, keep)))
        else:
            used.pop()
        trimmed = True
        prompt = _render(question, texts, seq2seq)
        tokens = count(prompt)
    return BuiltPrompt(prompt, chat=not seq2seq, used=used, trimmed=trimmed,
                       prompt_tokens=tokens)


# -- generator-shaped calls, kept for core.finetune.pipeline (another branch moves it to the
# functions above; drop these two then) ----------------------------------------------------
def build_base_prompt(question: str, generator) -> BuiltPrompt:
    """:func:`base_prompt` with ``generator.tokenizer`` and ``generator.is_seq2seq``."""
    return base_prompt(question, generator.tokenizer, seq2seq=generator.is_seq2seq)


def build_rag_prompt(question: str, hits: list, generator, *, max_new_tokens: int,
                     evidence: list[str] | None = None) -> BuiltPrompt:
    """:func:`rag_prompt` with the budget of ``generator``'s window after the answer."""
    return rag_prompt(question, hits, generator.tokenizer,
                      prompt_budget(generator.context_window, max_new_tokens),
                      seq2seq=generator.is_seq2seq, evidence=evidence, model=generator.model_id)
