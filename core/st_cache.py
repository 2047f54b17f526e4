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
def generator(_settings: Settings, spec: str):
    return loaders.load_generator(_settings)


def get_embedder():
    s = settings()
    return embedder(s, s.embedding_model)


def get_generator():
    s = settings()
    return generator(s, s.generator_model)


@st.cache_resource(show_spinner=False)
def rag_store(_settings: Settings, spec: str):
    """One KnowledgeStore (LanceDB connection) per process.

    The embedder loads on first need (through the loaders' per-process memo), so listing
    knowledge bases never waits for a model.
    """
    from core.rag.store import KnowledgeStore

    return KnowledgeStore(_settings, None, embedder_id=spec)


def get_rag_store():
    s = settings()
    return rag_store(s, s.embedding_model)


@st.cache_data(show_spinner=False, max_entries=4)
def qa_examples(split: str = "test") -> list[dict]:
    from core.rag.defaults import load_qa

    return load_qa(split=split)


@st.cache_resource(show_spinner=False)
def job_slot(kind: str):
    """One background-job slot per kind ("finetune", "evaluate") per server process."""
    from core.finetune.jobs import JobSlot

    return JobSlot()
