"""Prompt builder: context before question, chunk order, trimming to the window, seq2seq form."""

from dataclasses import dataclass

import pytest

from core.errors import UserError
from core.rag.prompts import (
    RAG_INSTRUCTION,
    TEMPLATE_MARGIN,
    WORKED_EXAMPLE,
    build_base_prompt,
    build_rag_prompt,
)
from core.rag.retrieve import Hit


def hits(n: int, words: int = 10) -> list[Hit]:
    return [Hit(f"d{i}.md#0", f"d{i}.md", 0, 1.0 - i / 10,
                " ".join(f"fact{i}w{j}" for j in range(words))) for i in range(n)]


def test_short_context_is_used_whole_best_chunk_next_to_the_question(tiny_generator):
    """Instruction, worked example, then the passages worst-to-best so the best-ranked one
    (fact0) sits right before the question."""
    built = build_rag_prompt("Who is it?", hits(3), tiny_generator, max_new_tokens=16)
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


def test_long_context_is_trimmed_to_the_window(tiny_generator):
    """tiny Llama window = 256 tokens; budget = 256 - 32 (answer) - TEMPLATE_MARGIN (48) = 176."""
    many = hits(8, words=30)
    built = build_rag_prompt("Who is it?", many, tiny_generator, max_new_tokens=32)
    budget = tiny_generator.context_window - 32 - TEMPLATE_MARGIN
    assert budget == 176
    assert built.prompt_tokens <= budget
    assert built.trimmed and 1 <= len(built.used) < len(many)
    assert built.used == many[:len(built.used)]  # best-ranked chunks kept, in order
    assert "Question: Who is it?" in built.prompt  # the question is never cut


def test_question_too_long_for_the_window(tiny_generator):
    with pytest.raises(UserError, match="question alone needs"):
        build_rag_prompt("why " * 300, hits(1), tiny_generator, max_new_tokens=32)


def test_base_prompt_has_no_context(tiny_generator):
    built = build_base_prompt("Who is it?", tiny_generator)
    assert "Context" not in built.prompt and built.prompt.endswith("Answer:") and built.chat


@dataclass
class FakeSeq2Seq:
    """Flan-T5 stand-in: whitespace tokens, 512-token window."""

    is_seq2seq: bool = True
    context_window: int = 512
    model_id: str = "fake-t5"

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_seq2seq_format_has_no_chat_and_keeps_context_first():
    built = build_rag_prompt("Who is it?", hits(2), FakeSeq2Seq(), max_new_tokens=32)
    assert built.prompt.startswith("Read the text and answer the question")
    assert built.prompt.index("fact1w0") < built.prompt.index("Question: Who is it?")
    assert not built.chat
    base = build_base_prompt("Who is it?", FakeSeq2Seq())
    assert not base.chat and base.prompt.endswith("Question: Who is it?")
