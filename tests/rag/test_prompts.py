"""Prompt builder: context before question, chunk order, trimming to the budget, seq2seq form.

The builders take a token budget and a tokenizer, not a generator; the generator-shaped
wrappers (kept for the fine-tuning pipeline) build the very same prompts.
"""

import pytest

from core.errors import UserError
from core.rag.prompts import (
    RAG_INSTRUCTION,
    TEMPLATE_MARGIN,
    WORKED_EXAMPLE,
    base_prompt,
    build_base_prompt,
    build_rag_prompt,
    prompt_budget,
    rag_prompt,
)
from core.rag.retrieve import Hit


def hits(n: int, words: int = 10) -> list[Hit]:
    return [Hit(f"d{i}.md#0", f"d{i}.md", 0, 1.0 - i / 10,
                " ".join(f"fact{i}w{j}" for j in range(words))) for i in range(n)]


def budget_of(generator, max_new_tokens: int) -> int:
    return prompt_budget(generator.context_window, max_new_tokens)


def test_short_context_is_used_whole_best_chunk_next_to_the_question(tiny_generator):
    """Instruction, worked example, then the passages worst-to-best so the best-ranked one
    (fact0) sits right before the question."""
    built = rag_prompt("Who is it?", hits(3), tiny_generator.tokenizer,
                       budget_of(tiny_generator, 16))
    p = built.prompt
    assert p.startswith(RAG_INSTRUCTION) and WORKED_EXAMPLE in p
    assert p.index(WORKED_EXAMPLE) < p.index("Text: fact2w0")
    assert p.index("fact2w0") < p.index("fact1w0") < p.index("fact0w0") < p.index(
        "Question: Who is it")
    assert p.endswith("fact0w9\nQuestion: Who is it?\nAnswer:")
    assert built.used == hits(3) and not built.trimmed and built.chat


def test_worked_example_answer_is_copied_from_its_text():
    """The example teaches the shape wanted: a few words that appear verbatim in its text."""
    text, rest = WORKED_EXAMPLE.split("\nQuestion: ")
    answer = rest.split("\nAnswer: ")[1]
    assert answer in text and len(answer.split()) <= 4 and "\n" not in answer


def test_answers_stop_at_the_line_break():
    from core.answering import ANSWER_STOP, DEFAULT_GENERATION

    assert DEFAULT_GENERATION.stop == ANSWER_STOP == ("\n",)
    assert DEFAULT_GENERATION.max_new_tokens <= 48


def test_budget_is_the_window_after_the_answer_and_the_template():
    """tiny Llama window = 256 tokens; budget = 256 - 32 (answer) - TEMPLATE_MARGIN (48) = 176."""
    assert TEMPLATE_MARGIN == 48 and prompt_budget(256, 32) == 176


def test_long_context_is_trimmed_to_the_budget(tiny_generator):
    many = hits(8, words=30)
    built = rag_prompt("Who is it?", many, tiny_generator.tokenizer, 176)
    assert built.prompt_tokens <= 176 == budget_of(tiny_generator, 32)
    assert tiny_generator.count_tokens(built.prompt) == built.prompt_tokens
    assert built.trimmed and 1 <= len(built.used) < len(many)
    assert built.used == many[:len(built.used)]  # best-ranked chunks kept, in order
    assert "Question: Who is it?" in built.prompt  # the question is never cut


def test_question_too_long_for_the_budget(tiny_generator):
    with pytest.raises(UserError, match=r"question alone needs .* tiny has room for 176"):
        rag_prompt("why " * 300, hits(1), tiny_generator.tokenizer, 176, model="tiny")


def test_base_prompt_has_no_context(tiny_generator):
    built = base_prompt("Who is it?", tiny_generator.tokenizer)
    assert "Context" not in built.prompt and built.prompt.endswith("Answer:") and built.chat
    assert built.prompt_tokens == tiny_generator.count_tokens(built.prompt)


@pytest.mark.parametrize("evidence", [None, ["fact0w1 fact0w2."]])
@pytest.mark.parametrize("n, words, max_new", [(3, 10, 16), (8, 30, 32), (2, 60, 120)])
def test_generator_wrappers_build_the_same_prompts(tiny_generator, n, words, max_new, evidence):
    """build_rag_prompt / build_base_prompt (generator-shaped, for the fine-tuning pipeline)
    give exactly what the budget-and-tokenizer builders give."""
    tok = tiny_generator.tokenizer
    old = build_rag_prompt("Who is it?", hits(n, words), tiny_generator,
                           max_new_tokens=max_new, evidence=evidence)
    new = rag_prompt("Who is it?", hits(n, words), tok, budget_of(tiny_generator, max_new),
                     evidence=evidence)
    assert old == new
    assert build_base_prompt("Who is it?", tiny_generator) == base_prompt("Who is it?", tok)


class WordTokenizer:
    """Flan-T5 stand-in: one token per whitespace-separated word."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        return {"input_ids": [self.vocab.setdefault(w, len(self.vocab)) for w in text.split()]}

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        words = {i: w for w, i in self.vocab.items()}
        return " ".join(words[i] for i in ids)


def test_seq2seq_format_has_no_chat_and_keeps_context_first():
    built = rag_prompt("Who is it?", hits(2), WordTokenizer(), 512 - 32 - TEMPLATE_MARGIN,
                       seq2seq=True)
    assert built.prompt.startswith("Read the text and answer the question")
    assert built.prompt.index("fact1w0") < built.prompt.index("Question: Who is it?")
    assert not built.chat
    base = base_prompt("Who is it?", WordTokenizer(), seq2seq=True)
    assert not base.chat and base.prompt.endswith("Question: Who is it?")
    assert base.prompt_tokens == len(base.prompt.split())
