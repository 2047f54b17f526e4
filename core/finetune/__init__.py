"""LoRA fine-tuning on a knowledge base: settings, training data, the training loop, adapters.

Modules: :mod:`.config` (LoRA settings), :mod:`.paraphrase` (offline rewordings),
:mod:`.data` (training examples from chunks, paraphrases or QA pairs), :mod:`.train` (the peft
training loop), :mod:`.adapters` (the on-disk registry and switching adapters on the shared
generator), :mod:`.pipeline` (knowledge base -> saved adapter), :mod:`.modes` (the
``finetuned`` and ``finetuned+rag`` answer modes), :mod:`.cli`. Background jobs for the pages
come from :mod:`core.jobs`. Nothing here imports Streamlit.
"""
