"""NLP Lab engine: settings, model loaders, generation and the feature packages.

Plain Python, importable and testable without Streamlit (only :mod:`core.st_cache` imports it).
"""
