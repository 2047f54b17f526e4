"""Evaluation of answer modes on a QA file: metrics, likelihood scoring, runs saved as JSON.

Modules: :mod:`.qa` (QA file loading and validation), :mod:`.metrics` (EM, F1, retrieval,
grounding and relevance), :mod:`.likelihood` (multiple-choice log-likelihood),
:mod:`.runner` (evaluate modes, aggregate, save and compare runs). No Streamlit here.
"""
