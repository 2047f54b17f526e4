"""Tweet emotion classification: visible preprocessing, datasets, classical and transformer
models, our own model store, CLI. Streamlit-free (the page lives in ``app_pages/emotions.py``)."""
