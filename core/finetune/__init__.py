"""LoRA fine-tuning on a knowledge base: settings, training data, the training loop, adapters.

Modules: :mod:`.config` (LoRA settings), :mod:`.data` (training examples from chunks,
paraphrases or QA pairs), :mod:`.train` (the peft training loop), :mod:`.adapters` (the
on-disk registry and switching adapters on the shared generator), :mod:`.pipeline`
(knowledge base -> saved adapter). Nothing here imports Streamlit.
"""
