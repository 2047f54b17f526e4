"""What the Home page says: one line per page, and what "Load all models now" does and costs.

Plain Python (no Streamlit). The system status itself is :mod:`core.status`.

Example:
    >>> PAGE_GUIDE[0][0]
    'Ask & compare'
"""

from __future__ import annotations

PAGE_GUIDE = [
    ("Ask & compare", "One question, up to four answers: base model, RAG over your "
     "documents, a LoRA fine-tuned adapter, and adapter + RAG, with sources and latency."),
    ("Knowledge bases", "Upload or index documents into LanceDB; inspect, add, delete."),
    ("Fine-tune (LoRA)", "Train a LoRA adapter on a knowledge base and watch the loss fall."),
    ("Evaluate", "Exact match, F1, multiple-choice accuracy and retrieval scores per mode."),
    ("Tweet emotions", "Every preprocessing step made visible; classical models vs a "
     "fine-tuned transformer; imbalance and emotion grouping handled."),
    ("Feedback dashboard", "Thumbs up/down kept as reward signals, exported for KTO/DPO, "
     "and used to train the model."),
    ("GPU memory", "Will a model fit your GPU at FP32…INT4, for inference and training? "
     "Estimated with cited formulas and checked against measurement."),
]

# Measured on this 2-core CPU machine: `python -m core info` with a fresh data dir took 69 s
# (generator 54 s incl. GGUF conversion), 12 s once converted; the app's button took 32-60 s.
LOAD_HELP = ("Loads the embedder, generator, classifier encoder and emoji predictor into this "
             "server process. "
             "The very first load converts SmolLM2 from GGUF: 30-70 s on a 2-core CPU; after "
             "that 10-15 s. The table below shows each model's measured load time.")
