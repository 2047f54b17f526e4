"""Real models: RAG answers a default-KB question the base model cannot know (slow tier).

The question is picked for robustness, not luck: its answer is a short, distinctive token
("919", a fictional emergency number) that appears verbatim in one default document, so a
135M-parameter model can copy it from the context, while nothing in pre-training points to it
(the base model guesses a real-world style number). The knowledge base holds the source
document plus five other default documents as distractors, so retrieval must still find it.
The extractive fallback is off (the default), so only the model's own reading can pass.
"""

import pytest

from core.answering import AskContext, answer, answer_generation
from core.qa import load_qa_rows
from core.rag.config import RetrievalConfig
from core.rag.defaults import DEFAULT_DOCS_DIR, is_correct
from core.rag.ingest import read_document
from core.rag.store import KnowledgeStore

QUESTION = "What is the emergency telephone number on Oradune?"


@pytest.mark.slow
def test_rag_answers_where_the_base_model_invents(app_settings, real_embedder, real_generator):
    row = next(r for r in load_qa_rows() if r["question"] == QUESTION)
    files = sorted(DEFAULT_DOCS_DIR.iterdir())
    others = [p for p in files if p.name != row["source"]][:5]
    docs = [read_document(p.name, p.read_bytes()) for p in [DEFAULT_DOCS_DIR / row["source"],
                                                            *others]]
    store = KnowledgeStore(app_settings, real_embedder)
    store.add_documents("it", docs)
    ctx = AskContext(real_generator, store, "it", RetrievalConfig(top_k=3),
                     answer_generation(24))
    assert not ctx.extractive_fallback

    rag = answer(QUESTION, "rag", ctx)
    assert rag["sources"][0]["document"] == row["source"]
    assert not rag["extractive"] and rag["answer"] == rag["generated"]  # the model's own text
    assert is_correct(rag["answer"], row), rag["answer"]

    base = answer(QUESTION, "base", ctx)
    assert not is_correct(base["answer"], row), base["answer"]
    assert base["answer"].strip()  # it does answer: it invents
