"""Retrieval-augmented generation over the user's documents, stored in LanceDB.

Modules: ``config`` (validated settings), ``chunking`` (sentence/paragraph-aware splitting),
``ingest`` (file readers), ``store`` (one LanceDB table per knowledge base), ``retrieve``
(vector / full-text / hybrid search), ``prompts`` (context-then-question prompts),
``answer`` (answer modes: base, rag, ...), ``ratings`` (thumbs up/down log), ``cli``.
"""
