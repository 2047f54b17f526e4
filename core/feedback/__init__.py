"""Feedback as reward signals: a durable store, statistics, exports and learning from thumbs.

Import the pieces you need: ``core.feedback.store`` (``open_store``), ``core.feedback.stats``,
``core.feedback.export``, ``core.feedback.learn`` (imports torch/TRL lazily). Nothing here
imports Streamlit; the page widgets live in ``pages/_feedback_widget.py``.
"""
