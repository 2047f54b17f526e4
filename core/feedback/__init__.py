"""Feedback as reward signals: a durable store, migrations, statistics and exports.

Import the pieces you need: ``core.feedback.store`` (``open_store``), ``core.feedback.stats``,
``core.feedback.export``. Learning from the thumbs is training, so it lives with the trainers
(:mod:`core.finetune.preference`). Nothing here imports Streamlit; the page widgets live in
``app_pages/_feedback_widget.py``.
"""
