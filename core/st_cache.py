"""The one place core touches Streamlit: loaders wrapped in ``st.cache_resource``.

Pages call these instead of the loaders so each model is loaded once per server process and
shared by every session. Callers must not mutate what they get back.
"""

from __future__ import annotations

import streamlit as st

from core import loaders
from core.settings import Settings, load_settings


@st.cache_resource(show_spinner=False)
def settings() -> Settings:
    return load_settings()


@st.cache_resource(show_spinner="Loading the embedding model…")
def embedder(_settings: Settings, spec: str):
    return loaders.load_embedder(_settings)


@st.cache_resource(show_spinner="Loading the generator model (first time converts it)…")
def generator(_settings: Settings, spec: str, url: str = ""):
    """The generator for ``spec``, or the model server at ``url`` when one is set."""
    return loaders.load_generator(_settings)


def start_warm_up() -> None:
    """Warm the models in the background once per server process (``NLPLAB_WARM_UP=1``):
    every page imports this module, so the first page served starts it and stays responsive."""
    s = settings()
    if s.warm_up:
        loaders.warm_up(s)


@st.cache_resource(show_spinner=False)
def start_first_adapter() -> None:
    """Once per server process: train the default knowledge base's adapter in the background
    when there is none (``NLPLAB_FIRST_ADAPTER=1``; :mod:`core.finetune.first_adapter`)."""
    from core.finetune import first_adapter

    first_adapter.start(settings())


def get_embedder():
    s = settings()
    return embedder(s, s.embedding_model)


def get_generator():
    s = settings()
    return generator(s, s.generator_model, s.generator_url)


def get_generator_tokenizer():
    """(tokenizer, is_seq2seq) of the generator, without loading its weights if not loaded."""
    from core.loaders import load_generator_tokenizer

    return load_generator_tokenizer(settings())


@st.cache_resource(show_spinner=False)
def feedback_store(url: str):
    """One feedback store (engine + connection pool) per database URL, shared by sessions."""
    from core.feedback.store import SQLFeedbackStore

    store = SQLFeedbackStore(url)
    if days := load_settings().feedback_retention_days:  # retention runs on start
        store.purge_older_than(days)
    return store


def get_feedback_store():
    """The store for the CURRENT settings (read fresh: cheap, and follows NLPLAB_* changes)."""
    s = load_settings()
    s.ensure_data_dir()
    return feedback_store(s.feedback_url)


@st.cache_resource(show_spinner=False)
def rag_store(_settings: Settings, spec: str, location: str):
    """One KnowledgeStore (LanceDB connection) per embedder and LanceDB location, per process.

    The embedder loads on first need (through the loaders' per-process memo), so listing
    knowledge bases never waits for a model.
    """
    from core.rag.store import KnowledgeStore

    return KnowledgeStore(_settings, None, embedder_id=spec)


def get_rag_store():
    s = settings()
    return rag_store(s, s.embedding_model, s.lancedb_location)


@st.cache_data(show_spinner="Counting the training examples…", max_entries=16)
def finetune_plan(_settings: Settings, kb: str, _lora, _documents: set[str] | None, key: tuple):
    """The Fine-tune page's plan (:func:`core.finetune.duration.plan_run`), built and tokenised
    once per ``key`` (:func:`core.presenters.finetune.plan_key`), not on every widget rerun."""
    from core.finetune.duration import plan_run

    tokenizer, is_seq2seq = get_generator_tokenizer()
    return plan_run(_settings, kb, _lora, tokenizer, is_seq2seq=is_seq2seq,
                    documents=_documents)


@st.cache_data(show_spinner=False, max_entries=4)
def qa_examples(split: str = "test") -> list[dict]:
    from core.qa import load_qa_rows

    return load_qa_rows(split=split)

# --- tweet emotions (issue 5) ---------------------------------------------------------------
@st.cache_resource(show_spinner="Preparing the preprocessing pipeline (WordNet)…", max_entries=16)
def emotion_preprocessor(config, data_dir):
    from core.emotions.preprocess import Preprocessor

    return Preprocessor(config, data_dir)


@st.cache_resource(show_spinner="Loading the emotion model…", max_entries=8)
def emotion_model(data_dir, name: str, stamp: float):
    """A saved emotion model; ``stamp`` (settings.json mtime) reloads it after retraining."""
    from core.emotions.models_store import load_model

    return load_model(name, data_dir)


start_warm_up()
start_first_adapter()
